"""The people of a demo region who can sign in: ``var/<region>/accounts.json``.

The demo seed writes one account per person it registered — the region's operator, a
coordinator of the partnership, each company and each student, with the ids the services
gave them — so the development issuer's sign-in page can list who to be. A JSON list of
``{"name", "roles", "region", "student_id"?, "company_id"?}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from interlocality.common.access import Role

__all__ = ["accounts_path", "read_accounts", "region_accounts", "write_accounts"]


def accounts_path(var_dir: Path, region: str) -> Path:
    """Where the accounts of ``region`` are kept."""
    return var_dir / region / "accounts.json"


def region_accounts(
    region: str,
    companies: Iterable[tuple[str, str]],
    students: Iterable[tuple[str, str]],
) -> list[dict[str, Any]]:
    """The accounts of ``region``: its operator and coordinator, then each company and each
    student as ``(name, id)``."""
    title = " ".join(word[:1].upper() + word[1:] for word in region.split("-"))
    return [
        {"name": f"Operator of {title}", "roles": [Role.OPERATOR.value], "region": region},
        {"name": f"Coordinator of {title}", "roles": [Role.COORDINATOR.value], "region": region},
        *(
            {"name": name, "roles": [Role.COMPANY.value], "region": region, "company_id": id_}
            for name, id_ in companies
        ),
        *(
            {"name": name, "roles": [Role.STUDENT.value], "region": region, "student_id": id_}
            for name, id_ in students
        ),
    ]


def write_accounts(path: Path, accounts: list[dict[str, Any]]) -> None:
    """Write ``accounts`` to ``path`` at once (a reader never sees half of them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(accounts, ensure_ascii=False, indent=2) + "\n", "utf-8")
    partial.replace(path)


def read_accounts(path: Path) -> list[dict[str, Any]]:
    """The accounts written at ``path``."""
    return list(json.loads(path.read_text(encoding="utf-8")))
