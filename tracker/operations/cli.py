"""``python -m tracker …``: the command line for admins and scripts.

Every command first brings the database to the newest migration (creating it on first run), so a new
installation needs no separate set-up step. User errors print one line and exit 1; unknown failures print
one line and exit 3 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from datetime import date
from typing import Any

from tracker.database import database_busy, initialize
from tracker.errors import NotFound, TrackerError, ValidationError
from tracker.exchange import fhir_commands
from tracker.operations import export_commands
from tracker.photos.photo_commands import register as register_photo_commands
from tracker.storage.configured import check_store
from tracker.storage.ingest import GRACE


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def _minutes(text: str) -> int:
    try:
        minutes = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of minutes") from None
    if not 0 <= minutes <= 7 * 24 * 60:
        raise argparse.ArgumentTypeError(f"{minutes} minutes: give 0 to 10080 (a week)")
    return minutes


def cmd_init(args: argparse.Namespace) -> int:
    print("Database ready (migrated to the newest schema).")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tracker.access.demo_accounts import demo_accounts_banner, demo_accounts_note, ensure_demo_accounts
    from tracker.operations.demo import clinic_records, load_demo
    from tracker.operations.demo_plan import MRN_PREFIX

    if args.if_empty and _patient_count(MRN_PREFIX) > 0:
        # Later starts create no account (removed demo accounts stay removed) and print no password.
        if note := demo_accounts_note():
            print(note)
        return 0
    if args.if_empty and (held := clinic_records()):
        # A real clinic (its first admin made on the command line, then `make run`) gets no demo.
        print(f"This installation already holds the clinic's own records ({held}): demo data and demo accounts "
              "not loaded (--if-empty loads them only into an empty installation).")
        return 0
    print(load_demo(with_photos=not args.no_photos, limit=args.limit).summary())
    if banner := demo_accounts_banner(ensure_demo_accounts()):
        print(banner)
    return 0


def _patient_count(mrn_prefix: str = "") -> int:
    from sqlalchemy import func, select

    from db import models
    from tracker.database import transaction

    with transaction() as session:
        return session.scalar(
            select(func.count(models.Patient.id)).where(models.Patient.mrn.like(f"{mrn_prefix}%"))
        ) or 0


def cmd_import(args: argparse.Namespace) -> int:
    from tracker.access.actors import command_line_actor
    from tracker.exchange.spreadsheet_import import import_spreadsheets

    result = import_spreadsheets(args.patients, args.sessions, args.visits, actor=command_line_actor("import"))
    print(result.summary())
    return 0


def cmd_progress(args: argparse.Namespace) -> int:
    from tracker.access.actors import command_line_actor
    from tracker.course.vocabulary import milestone_words, site_words, status_words
    from tracker.progress.patient_progress import progress_json

    report = progress_json(command_line_actor("progress"), args.mrn, args.as_of)  # audited as a view
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['mrn']}  day 0: {report['day0'] or 'no treatment session yet'}  as of {report['as_of']}")
    for site in report["sites"]:
        baseline = site["baseline"]
        # Words for a person; the codes stay in --json, which scripts read.
        print(f"  {site_words(site['site'])}: baseline "
              + (f"{baseline['density']} hairs/cm² on {baseline['date']}" if baseline else "none"))
        for m in site["milestones"]:
            change = "" if m["change"] is None else f" change {m['change']:+} ({m['change_pct']:+}%)"
            print(f"    {milestone_words(m['name']):<40} {m['window_start']}…{m['window_end']}  "
                  f"{status_words(m['status']).label}{change}")
    if "salt" in report:  # a SALT protocol (alopecia areata): judged on the SALT score, lower is better
        _print_salt(report["salt"])
    return 0


def _print_salt(salt: dict[str, Any]) -> None:
    from tracker.course.salt import SaltEndpoints
    from tracker.course.vocabulary import milestone_words, status_words

    baseline = salt["baseline"]
    print("  SALT score: baseline " + (f"{baseline['score']} on {baseline['date']}" if baseline else "none"))
    for m in salt["milestones"]:
        improvement = ("" if m["improvement_pct"] is None
                       else f" SALT {m['score']}, improvement {m['improvement_pct']:+}%")
        reached = SaltEndpoints(**m["endpoints"]).reached() if m["endpoints"] else ()
        print(f"    {milestone_words(m['name']):<40} {m['window_start']}…{m['window_end']}  "
              f"{status_words(m['status']).label}{improvement}" + (f" ({', '.join(reached)})" if reached else ""))


def cmd_check(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from tracker.operations.consistency import repair_interrupted, run_check

    grace = timedelta(minutes=args.grace_minutes)
    report = run_check(grace=grace, full=args.full)
    for line in report.lines():
        print(line)
    if args.repair and not report.ok:
        repair_interrupted(report, grace=grace)
        report = run_check(grace=grace, full=args.full)
        print("After repair:")
        for line in report.lines():
            print(line)
    return 0 if report.ok else 1


def _read_new_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        # One line, as bytes: its line break ('\n' or a Windows '\r\n') is not part of the password, and
        # bytes that are not UTF-8 are one clear refusal. Control characters left inside are refused by
        # the password policy (accounts.check_password_policy).
        line = sys.stdin.buffer.readline()
        line = line[:-2] if line.endswith(b"\r\n") else line[:-1] if line.endswith(b"\n") else line
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("The password on standard input is not valid UTF-8 text.") from None
    if not sys.stdin.isatty():
        raise ValidationError("No terminal to prompt for the password: pass it with --password-stdin.")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise ValidationError("The two passwords differ.")
    return first


def cmd_user_add(args: argparse.Namespace) -> int:
    from tracker.access.accounts import create_user
    from tracker.access.actors import command_line_actor

    name = create_user(command_line_actor("user"), username=args.username, password=_read_new_password(args),
                       role=args.role, patient_mrn=args.patient)
    print(f"Created {args.role} account {name!r}" + (f" linked to patient {args.patient}." if args.patient else "."))
    return 0


def cmd_user_unlock(args: argparse.Namespace) -> int:
    from tracker.access.accounts import unlock_user
    from tracker.access.actors import command_line_actor
    from tracker.access.credentials import normalize_username

    unlock_user(command_line_actor("user"), args.username)
    print(f"Unlocked {normalize_username(args.username)!r}.")
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    from tracker.access.accounts import disable_user
    from tracker.access.actors import command_line_actor

    name = disable_user(command_line_actor("user"), args.username)
    print(f"Disabled {name!r}: it cannot sign in, and its open sessions end at their next page load.")
    return 0


def cmd_user_enable(args: argparse.Namespace) -> int:
    from tracker.access.accounts import enable_user
    from tracker.access.actors import command_line_actor

    print(f"Enabled {enable_user(command_line_actor('user'), args.username)!r}.")
    return 0


def cmd_user_reset_password(args: argparse.Namespace) -> int:
    from tracker.access.accounts import reset_password
    from tracker.access.actors import command_line_actor
    from tracker.access.credentials import normalize_username

    temporary = reset_password(command_line_actor("user"), args.username)
    print(f"Temporary password for {normalize_username(args.username)!r} (shown once; the user must change it at "
          f"the next sign-in):\n  {temporary}")
    return 0


def cmd_user_remove_demo(args: argparse.Namespace) -> int:
    from tracker.access.actors import command_line_actor
    from tracker.access.demo_accounts import remove_demo_accounts

    removed = remove_demo_accounts(command_line_actor("user"))
    print(f"Removed the demo accounts: {', '.join(removed)}." if removed else "There are no demo accounts.")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    from tracker.access.accounts import list_users
    from tracker.access.actors import command_line_actor

    for user in list_users(command_line_actor("user")):
        flags = " ".join(flag for flag, on in (
            ("demo", user.demo), ("DISABLED", user.disabled), ("must-change-password", user.must_change_password),
            (f"delayed-until-{user.delayed_until:%H:%M}Z" if user.delayed_until else "", user.delayed_until),
        ) if on)
        print(f"{user.username:<24} {user.role:<10} {user.patient_mrn or '':<12} {flags}".rstrip())
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from tracker.access import audit
    from tracker.access.audit_anchor import ANCHOR_EVERY, parse_line

    result = audit.verify_trail(tuple(parse_line(line) for line in args.head))
    anchors = result.anchors
    assert anchors is not None, "verify_trail checks the anchors"
    if not result.ok:
        print(f"Audit trail TAMPERED: {len(result.problems)} problem(s) in {result.entries} entries:")
        for problem in result.problems:
            print(f"  - {problem}")
        return 1
    if anchors.latest:
        print(f"Audit trail intact: {result.entries} entries, every hash and link verified, checked against "
              f"{anchors.anchors} anchor(s) (latest at {anchors.latest.at:%Y-%m-%d %H:%M:%S} UTC, "
              f"up to entry {anchors.latest.last_id or 0}; entries after it are covered by the chain alone).")
    else:
        print(f"Audit trail intact: {result.entries} entries, every hash and link verified. No anchors yet "
              f"({anchors.path} {'is empty' if anchors.file_exists else 'does not exist'}): deleted newest "
              f"entries, an emptied table or a recomputed chain cannot be told apart from an intact trail until "
              f"one is written (`python -m tracker audit anchor`, every {ANCHOR_EVERY} entries, every backup). "
              f"If anchors were written before, the file has been removed.")
    return 0


def cmd_audit_export(args: argparse.Namespace) -> int:
    """The filtered trail written to a new file (0600) as its rows are read: flat memory on a trail of any
    length. Written beside it as ``.NAME.partial`` and renamed at the end, so the file exists only complete."""
    import os
    from pathlib import Path

    from tracker.access import audit
    from tracker.access.actors import command_line_actor

    target = Path(args.file)
    if os.path.lexists(target):
        raise ValidationError(f"{target} already exists: an export never replaces a file; choose another name.")
    partial = target.with_name(f".{target.name}.partial")
    export = audit.export_csv(command_line_actor("audit export"), username=args.user, mrn=args.mrn,
                              action=args.action, since=args.since, until=args.until)
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in export.chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise ValidationError(f"The audit trail could not be written to {target}: {error.strerror or error}. "
                              "No file was left behind.") from None
    print(f"Audit trail written to {target}: {export.entries} entries, {target.stat().st_size:,} bytes.")
    return 0


def cmd_audit_anchor(args: argparse.Namespace) -> int:
    from tracker.access.audit_anchor import write_anchor
    from tracker.access.signing import signing_key

    key = signing_key()
    if key.created:
        print(key.advice(), file=sys.stderr)
    print(write_anchor(reason="command").line())
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from tracker.access.actors import command_line_actor
    from tracker.operations.backup import backup

    result = backup(args.destination, command_line_actor("backup"))
    print(result.summary())
    if result.key_advice:  # this backup created the signing key: said once, when it happens
        print(result.key_advice)
    if result.anchor_problem:  # the backup is complete and audited; only the anchor after it failed
        print(f"error: the backup is complete and in the audit trail, but the audit anchor was not written: "
              f"{result.anchor_problem}", file=sys.stderr)
        return 1
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from tracker.access.actors import command_line_actor
    from tracker.operations.restore import restore
    from tracker.validation import shown_path

    result = restore(args.source, command_line_actor("restore"), force=args.force)
    print(f"Restored {sum(result.rows.values())} rows and {result.files} files from {shown_path(result.folder)}.")
    if result.anchor_problem:  # the restore is complete and audited; only the anchor after it failed
        print(f"error: the restore is complete and in the audit trail, but the audit anchor was not written: "
              f"{result.anchor_problem}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tracker", description="Regrowth Tracker administration")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("init", help="create or migrate the database (idempotent)").set_defaults(run=cmd_init)

    demo = commands.add_parser("demo", help="load the fictional demo clinic (idempotent)")
    demo.add_argument("--no-photos", action="store_true", help="skip generating demo photos")
    demo.add_argument("--if-empty", action="store_true",
                      help="only into an empty installation (no patients, accounts or other records yet)")
    demo.add_argument("--limit", type=int, default=None, help="only the first N demo patients (quick tests)")
    demo.set_defaults(run=cmd_demo)

    importer = commands.add_parser("import", help="import the clinic's spreadsheets (CSV or XLSX)")
    importer.add_argument("patients")
    importer.add_argument("sessions")
    importer.add_argument("visits")
    importer.set_defaults(run=cmd_import)

    progress = commands.add_parser("progress", help="one patient's progress against the milestones")
    progress.add_argument("mrn")
    progress.add_argument("--as-of", type=_iso_date, default=None, help="YYYY-MM-DD (default: today)")
    progress.add_argument("--json", action="store_true", help="print the documented JSON")
    progress.set_defaults(run=cmd_progress)

    check = commands.add_parser("check", help="database ↔ photo and document stores consistency")
    check.add_argument("--repair", action="store_true", help="remove files left by interrupted ingests")
    check.add_argument("--full", action="store_true",
                       help="re-hash every stored original (by default: those added since the last check, a "
                            "rotating sample of the others, and those found altered before)")
    grace_minutes = int(GRACE.total_seconds() // 60)  # the ingest's own grace, so the two cannot drift apart
    check.add_argument("--grace-minutes", type=_minutes, default=grace_minutes, metavar="N",
                       help=f"leftovers younger than this are an upload still in progress (default {grace_minutes}); "
                            "0 after a crash, with the app stopped")
    check.set_defaults(run=cmd_check)

    backup = commands.add_parser("backup", help="consistent snapshot of database and photos (app may run)")
    backup.add_argument("destination", help="a new or empty folder")
    backup.set_defaults(run=cmd_backup)
    restore = commands.add_parser("restore", help="check a backup, then restore it into a new installation")
    restore.add_argument("source")
    restore.add_argument("--force", action="store_true",
                         help="replace an installation that holds records with the backup")
    # No set-up first: the backup is checked before anything is written, and restore creates the schema.
    restore.set_defaults(run=cmd_restore, initializes=False)

    user = commands.add_parser("user", help="accounts").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="create an account (prompts for the password)")
    add.add_argument("--role", required=True, choices=("admin", "clinician", "patient"))
    add.add_argument("--username", required=True)
    add.add_argument("--patient", metavar="MRN", help="the patient record a patient account belongs to")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(run=cmd_user_add)
    unlock = user.add_parser("unlock", help="lift the sign-in delay that failed attempts put on an account")
    unlock.add_argument("username")
    unlock.set_defaults(run=cmd_user_unlock)
    for name, run, what in (("disable", cmd_user_disable, "disable an account (it cannot sign in; sessions end)"),
                            ("enable", cmd_user_enable, "enable a disabled account again"),
                            ("reset-password", cmd_user_reset_password,
                             "give an account a temporary password, to be changed at its next sign-in")):
        command = user.add_parser(name, help=what)
        command.add_argument("username")
        command.set_defaults(run=run)
    user.add_parser("remove-demo", help="remove every demo account").set_defaults(run=cmd_user_remove_demo)
    user.add_parser("list", help="list accounts").set_defaults(run=cmd_user_list)

    audit_commands = commands.add_parser("audit", help="audit trail").add_subparsers(
        dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="detect edited, removed or rewritten entries (chain and anchors)")
    verify.add_argument("--head", action="append", default=[], metavar="LINE",
                        help="also check against a head line printed by `audit anchor` and kept elsewhere "
                             "(repeatable)")
    verify.set_defaults(run=cmd_audit_verify)
    audit_commands.add_parser("anchor", help="anchor the trail's head in the anchor file and print it as one line "
                                             "(for another system's log)").set_defaults(run=cmd_audit_anchor)
    export = audit_commands.add_parser("export", help="write the trail (filtered) to a new CSV file, newest first")
    export.add_argument("file", help="the CSV file to create (never replaced)")
    export.add_argument("--user", default="", help="one user's entries (cli:backup also finds 'cli:backup (root)')")
    export.add_argument("--mrn", default="", help="the entries about this patient, also lists that name them")
    export.add_argument("--action", default="", help="one kind of entry: view, create, update, export, ...")
    export.add_argument("--since", default="", metavar="DATE", help="from this day (the clinic's date format)")
    export.add_argument("--until", default="", metavar="DATE", help="up to and including this day")
    export.set_defaults(run=cmd_audit_export)
    export_commands.register(commands)
    fhir_commands.register(commands)
    register_photo_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "uses_store", True):  # not the photo methods on files, which open neither store nor database
            check_store()  # a store setting that cannot work stops every command, before anything is written
        if getattr(args, "initializes", True):
            initialize()
        run: Callable[[argparse.Namespace], int] = args.run
        return run(args)
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for problem in exc.problems if len(exc.problems) > 1 else []:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    except (NotFound, TrackerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last guard: one line for the admin, details only on request
        busy = database_busy(exc)
        if busy and not args.debug:
            # Another writer (the app, another command) held the database past the wait: nothing was written.
            print(f"error: the database is busy ({busy}); nothing was changed. Try again in a moment.",
                  file=sys.stderr)
            return 1
        if args.debug:
            raise
        print(f"unexpected error ({type(exc).__name__}): {exc}. Re-run with --debug for details.", file=sys.stderr)
        return 3
