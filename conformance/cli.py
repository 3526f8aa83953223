"""`kolla-conformance`: a thin layer over pytest and the report tools.

    kolla-conformance run [--profile P.yml|NAME] [pytest args]   # = pytest --profile P.yml [pytest args]
    kolla-conformance run [--configdir DIR] [-i INVENTORY]   # no profile: the standard deployment, as kolla-ansible
    kolla-conformance report RESULTS_DIR... -o HTML_DIR      # allure-results (one run or many shards) -> one HTML
    kolla-conformance merge FINDINGS.json... [-o OUT.json]   # several runs' findings -> one summary and exit code
    kolla-conformance fetch-kolla VERSION...                  # Kolla Ansible's files for a release, into the cache
    kolla-conformance expectations --profile P.yml           # what each host should be, one JSON line per host
    kolla-conformance catalog [--write README.md | --check README.md]   # the check table (README's catalog)
    kolla-conformance catalog CHECK_ID...                    # a check's page: what it verifies, evidence, fix, fault

Exit codes are the gate's (conformance/report/gate.py); a usage or input error is one line and exit 4.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from conformance import catalog
from conformance import waivers as waiver_rules
from conformance.checks import all_checks
from conformance.errors import ConformanceError, ExitCode
from conformance.report import gate, html, merge, terminal


def _run(args, rest) -> int:
    """No profile: the shipped `standard` one, fed kolla-ansible's own --configdir and -i."""
    import pytest

    from conformance.profile import STANDARD

    kolla = [f"--kolla-configdir={args.configdir}"] if args.configdir else []
    kolla += [f"--kolla-inventory={path}" for path in args.inventory or []]
    kolla += [f"--kolla-limit={args.limit}"] if args.limit else []
    return int(pytest.main(["--conformance-profile", args.profile or STANDARD, *kolla, *rest]))


def _report(args, rest) -> int:
    started = time.monotonic()
    index = html.generate(args.results, args.output, history=args.history, name=args.name)
    views = ", ".join(f"{title}: {html.view_index(index, view)}" for view, (title, _) in html.VIEWS.items())
    print(f"report: {index} ({views}; {time.monotonic() - started:.1f} s)")
    return ExitCode.OK


def _merge(args, rest) -> int:
    waivers = waiver_rules.load(args.waivers) if args.waivers else ()
    findings = merge.merge(args.findings, waivers)
    if args.output:
        merge.write(findings, args.output)
    code = gate.exit_code(findings, args.strict_warnings)
    for line in terminal.render(findings, unused=waiver_rules.unused(waivers, findings), exit_code=code):
        print(line)
    return code


def _fetch_kolla(args, rest) -> int:
    from conformance.kolla import release

    for version in args.versions:
        found = release.fetch(version)
        print(f"kolla-ansible {found.version}: {found.ansible_dir}")
    return ExitCode.OK


def _expectations(args, rest) -> int:
    """What the suite expects of each host, resolved as the run resolves it (host facts read over SSH)."""
    import dataclasses
    import json

    from conformance.profile import load_profile
    from conformance.runtime import Run

    options = {"inventory": args.inventory, "limit": args.limit, "config_dir": args.configdir}
    profile = load_profile(args.profile, options)
    print(f"Kolla Ansible {profile.kolla.kolla.version} ({profile.kolla.kolla.ansible_dir})", file=sys.stderr)
    run, code = Run(profile), ExitCode.OK
    try:
        for plan in profile.hosts:
            try:
                expectation, _ = run.host(plan.name).prepare()
            except ConformanceError as exc:
                print(f"kolla-conformance: {exc}", file=sys.stderr)
                code = ExitCode.HOSTS_UNREACHABLE
                continue
            values = {k: (repr(v) if k == "sasl_password" else v) for k, v in dataclasses.asdict(expectation).items()}
            print(json.dumps(values, default=str))
    finally:
        run.close()
    return code


def _catalog(args, rest) -> int:
    if args.check_ids and (args.check or args.write):
        print("kolla-conformance catalog: give check ids or --write/--check, not both", file=sys.stderr)
        return ExitCode.PROFILE_ERROR
    if args.check_ids:
        known = {check.id for check in all_checks()}
        unknown = [c for c in args.check_ids if c not in known]
        if unknown:
            print(
                f"kolla-conformance catalog: no check has the id {', '.join(unknown)} "
                f"(`kolla-conformance catalog` lists them)",
                file=sys.stderr,
            )
            return ExitCode.PROFILE_ERROR
        print("\n".join(catalog.page(c).rstrip("\n") + "\n" for c in args.check_ids), end="")
        return ExitCode.OK
    if args.check:
        if not Path(args.check).is_file():
            print(f"{args.check}: not found (nothing to compare the check catalog with)", file=sys.stderr)
            return ExitCode.PROFILE_ERROR
        if catalog.is_current(args.check):
            return ExitCode.OK
        print(
            f"{args.check}: check catalog is stale; run `kolla-conformance catalog --write {args.check}`",
            file=sys.stderr,
        )
        return ExitCode.CHECK_FAILED
    if args.write:
        print(f"{args.write}: {'updated' if catalog.write(args.write) else 'already current'}")
        return ExitCode.OK
    print(catalog.markdown())
    return ExitCode.OK


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # a usage error is the gate's 4, not argparse's 2
        self.print_usage(sys.stderr)
        self.exit(ExitCode.PROFILE_ERROR, f"{self.prog}: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="kolla-conformance", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    # No abbreviations: pytest's own options (--co, --lf) would be taken for ours (--configdir, --limit).
    run = sub.add_parser("run", help="run the suite (extra arguments go to pytest)", allow_abbrev=False)
    run.add_argument("--profile", help="a profile file or a shipped profile's name (default: standard)")
    run.add_argument("--configdir", help="kolla-ansible --configdir (default $KOLLA_CONFIG_PATH, else /etc/kolla)")
    run.add_argument(
        "-i",
        "--inventory",
        action="append",
        help="kolla-ansible -i (repeatable; default CONFIGDIR/ansible/inventory/all-in-one)",
    )
    run.add_argument("--limit", help="kolla-ansible --limit: an Ansible host pattern")
    run.set_defaults(func=_run)
    report = sub.add_parser("report", help="offline single-file Allure HTML report")
    report.add_argument("results", nargs="+", type=Path, help="allure-results folder(s); shards merge")
    report.add_argument(
        "-o", "--output", type=Path, required=True, help="report folder (index.html: a summary linking area/, hosts/)"
    )
    report.add_argument("--history", type=Path, help=f"history file (default: OUTPUT/{html.HISTORY_FILE})")
    report.add_argument("--name", default="Kolla libvirt conformance")
    report.set_defaults(func=_report)
    mrg = sub.add_parser("merge", help="merge findings JSON of several runs into one summary and exit code")
    mrg.add_argument("findings", nargs="+", type=Path)
    mrg.add_argument("-o", "--output", type=Path, help="write the merged findings JSON here")
    mrg.add_argument("--waivers", type=Path, help="apply this waiver file to findings no run waived")
    mrg.add_argument("--strict-warnings", action="store_true")
    mrg.set_defaults(func=_merge)
    fetch = sub.add_parser("fetch-kolla", help="download Kolla Ansible releases' files (the defaults) into the cache")
    fetch.add_argument("versions", nargs="+", metavar="VERSION", help="e.g. 18.8.0")
    fetch.set_defaults(func=_fetch_kolla)
    exp = sub.add_parser("expectations", help="print what each host is expected to be (one JSON line per host)")
    exp.add_argument("--profile", required=True, help="a profile file or a shipped profile's name")
    exp.add_argument("--configdir", help="kolla-ansible --configdir")
    exp.add_argument("-i", "--inventory", action="append", help="kolla-ansible -i (repeatable)")
    exp.add_argument("--limit", help="an Ansible host pattern")
    exp.set_defaults(func=_expectations)
    cat = sub.add_parser("catalog", help="print the check catalog or a check's page, or write/check it in a README")
    cat.add_argument("check_ids", nargs="*", metavar="CHECK_ID", help="print the page of these checks")
    group = cat.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, metavar="README.md")
    group.add_argument("--check", type=Path, metavar="README.md")
    cat.set_defaults(func=_catalog)
    return top


def main(argv=None) -> int:
    args, rest = parser().parse_known_args(argv)
    if rest and args.command != "run":
        parser().error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return int(args.func(args, rest))
    except ConformanceError as exc:
        print(f"kolla-conformance: {exc}", file=sys.stderr)
        return ExitCode.PROFILE_ERROR


if __name__ == "__main__":
    sys.exit(main())
