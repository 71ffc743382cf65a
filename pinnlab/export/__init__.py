"""Take a comparison with you: one standalone HTML page (``write_html``, ``comparison_html``) and TensorBoard
event files (``write_tensorboard``) from run directories, read-only."""
from .html import comparison_html, download_page, write_html
from .tensorboard import write_tensorboard

__all__ = ["comparison_html", "download_page", "write_html", "write_tensorboard"]
