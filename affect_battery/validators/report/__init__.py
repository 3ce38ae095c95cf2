"""Every rendering of the defence report, in one place, so its views can never disagree.

- :func:`render_markdown`: report.md (:mod:`.markdown`, one renderer per section);
- :func:`headline`: the few lines ``validate`` and ``demo`` print (:mod:`.headline`);
- :func:`card_values`, :func:`datasheet_values`: what the dataset card and datasheet quote
  (:mod:`.card`);
- :func:`write_figures`: the PNG figures (:mod:`.figures`);
- :func:`write_report`: the report folder (:mod:`.folder`).

Every threshold shown is read from the report's recorded targets or from the constants of the
module that checks it, never typed into a string.
"""

from .card import card_values, datasheet_values
from .figures import write_figures
from .folder import write_report
from .headline import headline
from .markdown import norms_markdown, render_markdown

__all__ = ["card_values", "datasheet_values", "headline", "norms_markdown", "render_markdown",
           "write_figures", "write_report"]
