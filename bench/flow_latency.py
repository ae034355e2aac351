"""How long the company → vacancy → student → match → notification → summary flow takes
on a running region (``make run`` in another terminal), over HTTP like a user, as the
region's operator with the tokens the operator's tools sign (the development issuer's key
under the var dir, or ``$INTERLOCALITY_TOKEN`` for a region that trusts another provider).

    uv run python bench/flow_latency.py [--rounds 5] [--region demo] [--var-dir var]

Prints one row per step: the time from posting the student until the step is visible,
median and worst over the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from pathlib import Path

import httpx

from interlocality.common.esco import default_vocabulary
from interlocality.operator.credentials import NoCredentials, credentials_for
from interlocality.operator.run_file import RegionNotRunning, locate_region
from interlocality.operator.services import SERVICES


def wait(check, timeout: float = 30.0) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > timeout:
            raise SystemExit("the flow did not complete within 30 s")
        time.sleep(0.005)
    return time.perf_counter()


def items(client: httpx.Client, url: str) -> list[object]:
    """The page's items; none while the service does not know the student yet (404)."""
    response = client.get(url)
    if response.status_code == 404:
        return []
    response.raise_for_status()
    items: list[object] = response.json()["items"]
    return items


def one_round(
    client: httpx.Client, base: dict[str, str], skills: list[str], n: int
) -> dict[str, float]:
    started = time.perf_counter()
    # a name of its own: the region refuses a second company of the same name and city
    name = f"Bench {n} {uuid.uuid4().hex[:8]}"
    company = client.post(f"{base['vacancies']}/v1/companies", json={"name": name})
    company.raise_for_status()
    vacancy = client.post(
        f"{base['vacancies']}/v1/vacancies",
        json={
            "company_id": company.json()["company_id"],
            "title": f"Bench vacancy {n}",
            "kind": "internship",
            "required_skills": [{"uri": uri, "min_level": 2} for uri in skills],
        },
    )
    vacancy.raise_for_status()
    posted = time.perf_counter()
    student = client.post(
        f"{base['profiles']}/v1/students",
        json={
            "name": f"Bench Student {n}",
            "email": f"bench{n}@students.example.org",
            "skills": [{"uri": uri, "level": 3} for uri in skills[:2]],
            "engagement_kinds": ["internship"],
            "consents": {"matching": True, "notifications": True, "analytics": True},
        },
    )
    student.raise_for_status()
    student_id = student.json()["student_id"]
    baseline = client.get(f"{base['analytics']}/v1/summary").json()["by_type"]
    matched = wait(lambda: items(client, f"{base['matching']}/v1/students/{student_id}/matches"))
    notified = wait(
        lambda: items(client, f"{base['notifications']}/v1/students/{student_id}/notifications")
    )
    counted = wait(
        lambda: (
            client.get(f"{base['analytics']}/v1/summary")
            .json()["by_type"]
            .get("NotificationSent.v1", 0)
            > baseline.get("NotificationSent.v1", 0)
        )
    )
    return {
        "company + vacancy posted (HTTP)": posted - started,
        "student posted → match readable": matched - posted,
        "student posted → notification readable": notified - posted,
        "student posted → analytics counted it": counted - posted,
        "whole flow": counted - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--region", default="demo", help="the running region (%(default)s)")
    parser.add_argument(
        "--var-dir", type=Path, default=Path("var"), help="its var dir (%(default)s)"
    )
    args = parser.parse_args()
    var_dir = args.var_dir.resolve()
    try:
        # where its services listen (the run file says, as for `interlocality` commands)
        addresses = locate_region(args.region, var_dir)
        base = {service: addresses.url(service) for service in SERVICES}
        auth = credentials_for(args.region, var_dir)
    except (RegionNotRunning, NoCredentials) as exc:
        raise SystemExit(f"flow_latency: {exc}") from None
    vocabulary = default_vocabulary()
    occupation = next(o for o in vocabulary.occupations.values() if o.label == "data analyst")
    skills = list(occupation.essential_skills[:4])
    rows: dict[str, list[float]] = {}
    with httpx.Client(timeout=10, auth=auth) as client:
        for n in range(args.rounds):
            for step, seconds in one_round(client, base, skills, n).items():
                rows.setdefault(step, []).append(seconds)
    print(f"{'step':<42} {'median':>9} {'worst':>9}   ({args.rounds} rounds)")
    for step, values in rows.items():
        print(f"{step:<42} {statistics.median(values):>8.3f}s {max(values):>8.3f}s")


if __name__ == "__main__":
    main()
