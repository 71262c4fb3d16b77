"""``c365 timebank family add|list``: the relatives hours may be given to."""

from __future__ import annotations

import click

from community365.cli.state import CliState, emit, emit_table, json_option, pass_state
from community365_timebank import family
from community365_timebank.cli_shared import (
    district_of,
)

# -- family ---------------------------------------------------------------------------------------


@click.group("family")
def family_cli() -> None:
    """Family ties that allow gifts of hours (spouse, parent, grandparent)."""


@family_cli.command("add")
@click.argument("person")
@click.argument("relative")
@click.option("--relation", required=True, help="spouse 配偶 | parent 父母 | grandparent 祖父母.")
@pass_state
def family_add_cmd(state: CliState, person: str, relative: str, relation: str) -> None:
    """Record that RELATIVE is PERSON's spouse, parent or grandparent (ID numbers)."""
    district = district_of(state)
    with district.begin() as ctx:
        tie = family.add_tie(ctx, person, relative, relation)
        district.audit(
            ctx, "timebank.family", f"{tie.person_name} → {tie.relative_name}", tie.relation
        )
    click.echo(
        f"{tie.relative_name} recorded as {tie.person_name}'s "
        f"{tie.relation} ({family.RELATION_NAMES[tie.relation]})"
    )


@family_cli.command("list")
@click.argument("person")
@json_option
@pass_state
def family_list_cmd(state: CliState, person: str, as_json: bool) -> None:
    """PERSON's recorded ties, either way round."""
    from community365.registry.contact import mask_id_number

    district = district_of(state)
    with district.engine.connect() as conn:
        ties = family.ties_of(conn, person)
    rows = [
        {
            "person": t.person_name,
            "person_id_number": mask_id_number(t.person_id_number),
            "relation": t.relation,
            "relative": t.relative_name,
            "relative_id_number": mask_id_number(t.relative_id_number),
        }
        for t in ties
    ]

    def table() -> None:
        emit_table(
            ["person", "relation", "relative"],
            [
                (
                    f"{r['person']} {r['person_id_number']}",
                    f"{r['relation']} {family.RELATION_NAMES[r['relation']]}",
                    f"{r['relative']} {r['relative_id_number']}",
                )
                for r in rows
            ],
        )

    emit(as_json, rows, table)
