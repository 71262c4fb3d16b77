"""Settings of ``[plugins.hello]`` in district.toml.

community365 structures that table into :class:`HelloSettings` whenever the district is
opened: an unknown key or a value of the wrong type stops the command with an error
naming ``plugins.hello.<key>``.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class HelloSettings:
    """How the board is called, and how many offers one neighbour may post in one area."""

    board_name: str = "邻里互助 Neighbour help"
    max_offers: int = attrs.field(default=3, validator=attrs.validators.ge(1))
