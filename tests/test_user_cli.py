"""``python -m tracker user …`` and ``demo`` run as an admin runs them: in a subprocess, on the clinic's
database (SQLite and PostgreSQL), reading only what they print and their exit codes."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

from sqlalchemy import select, update

from db import models
from tests import forked_python
from tracker.access import audit
from tracker.access.actors import command_line_actor, os_user
from tracker.access.sign_in import REFUSED, sign_in
from tracker.database import transaction
from tracker.errors import PermissionDenied

BOSS, PHRASE = "boss", "long enough phrase 42"


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``python -m tracker ARGS`` in a process of its own (tests/forked_python.py)."""
    return forked_python.run(["-m", "tracker", *args], env={**os.environ}, input=stdin, timeout=300)


def cli_bytes(*args: str, stdin: bytes) -> subprocess.CompletedProcess:
    return forked_python.run(["-m", "tracker", *args], env={**os.environ}, input=stdin, text=False, timeout=300)


def add(username: str, role: str = "admin") -> None:
    made = cli("user", "add", "--role", role, "--username", username, "--password-stdin", stdin=PHRASE + "\n")
    assert made.returncode == 0, made.stderr


def audit_details(url: str) -> list[str]:
    with transaction(url) as session:
        return list(session.scalars(select(models.AuditEntry.detail).where(models.AuditEntry.action == "account")))


def test_disable_enable_and_the_last_admin(clinic):
    add(BOSS)
    last = cli("user", "disable", BOSS)
    assert last.returncode == 1 and "last enabled administrator" in last.stderr
    assert last.stderr.count("\n") == 1  # one line
    add("dr.lee", "clinician")
    disabled = cli("user", "disable", "dr.lee")
    assert disabled.returncode == 0 and "Disabled 'dr.lee'" in disabled.stdout
    assert re.search(r"^dr\.lee\s+clinician\s+DISABLED$", cli("user", "list").stdout, re.M)
    assert cli("user", "disable", "dr.lee").returncode == 1  # already disabled: said, not repeated
    assert cli("user", "disable", "nobody").returncode == 1
    enabled = cli("user", "enable", "dr.lee")
    assert enabled.returncode == 0 and "Enabled 'dr.lee'" in enabled.stdout
    assert sign_in("dr.lee", PHRASE, url=clinic).username == "dr.lee"
    assert {"disabled dr.lee", "enabled dr.lee"} <= set(audit_details(clinic))


def test_reset_password_prints_a_temporary_password_once(clinic):
    add(BOSS)
    add("dr.lee", "clinician")
    reset = cli("user", "reset-password", "dr.lee")
    assert reset.returncode == 0, reset.stderr
    temporary = reset.stdout.strip().splitlines()[-1].strip()
    assert "shown once" in reset.stdout and len(temporary) >= 10
    assert sign_in("dr.lee", temporary, url=clinic).must_change_password
    assert "must-change-password" in cli("user", "list").stdout
    assert temporary not in " ".join(audit_details(clinic))


def test_demo_passwords_are_printed_only_by_the_run_that_made_them_and_removed_in_one_step(clinic):
    first = cli("demo", "--limit", "1", "--no-photos", "--if-empty")
    assert first.returncode == 0, first.stderr
    passwords = dict(re.findall(r"^\s+(demo\.\w+)\s+\w+\s+password: (\S+)", first.stdout, re.M))
    assert sorted(passwords) == ["demo.admin", "demo.clinician", "demo.patient"]
    credentials = Path(os.environ["TRACKER_DATA_DIR"]) / "demo-accounts.txt"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600

    with transaction(clinic) as session:
        loaded = session.scalar(select(models.AuditEntry.detail).where(models.AuditEntry.action == "import"))
    assert loaded == f"demo clinic: 1 fictional patients added (OS user {os_user()})"

    later = cli("demo", "--if-empty")  # what every later `make run` does
    assert later.returncode == 0, later.stderr
    assert not [p for p in passwords.values() if p in later.stdout]
    assert str(credentials) in later.stdout

    refused = cli("user", "remove-demo")  # demo.admin is the only admin: create a real one first
    assert refused.returncode == 1 and "last enabled administrator" in refused.stderr
    add(BOSS)
    removed = cli("user", "remove-demo")
    assert removed.returncode == 0, removed.stderr
    assert "demo.admin, demo.clinician, demo.patient" in removed.stdout
    assert not credentials.exists()
    with transaction(clinic) as session:
        assert list(session.scalars(select(models.User.username))) == [BOSS]
    quiet = cli("demo", "--if-empty")  # removed demo accounts stay removed; nothing to say
    assert quiet.returncode == 0 and quiet.stdout.strip() == ""
    with transaction(clinic) as session:
        assert list(session.scalars(select(models.User.username))) == [BOSS]
    assert any(d.startswith("removed the demo accounts") for d in audit_details(clinic))
    assert cli("user", "remove-demo").stdout.strip() == "There are no demo accounts."


def usernames(url: str) -> list[str]:
    with transaction(url) as session:
        return list(session.scalars(select(models.User.username).order_by(models.User.username)))


def test_demo_if_empty_leaves_an_installation_with_its_first_admin_alone(clinic):
    add(BOSS)  # README: the first admin is made on the command line, then `make run` (demo --if-empty)
    start = cli("demo", "--if-empty", "--no-photos", "--limit", "1")
    assert start.returncode == 0, start.stderr
    assert start.stdout.strip() == ("This installation already holds the clinic's own records (1 account): demo "
                                    "data and demo accounts not loaded (--if-empty loads them only into an empty "
                                    "installation).")
    assert "password" not in start.stdout
    assert usernames(clinic) == [BOSS]
    with transaction(clinic) as session:
        assert session.scalar(select(models.Patient.id)) is None
    assert not (Path(os.environ["TRACKER_DATA_DIR"]) / "demo-accounts.txt").exists()


def test_demo_if_empty_counts_any_record_of_the_clinic_not_only_patients(clinic):
    # No patient, no account: the clinic's own protocol, and both seeded ones (the default and the SALT one) edited.
    with transaction(clinic) as session:
        session.add(models.Protocol(name="Ours", band=[], windows=[], created_by="boss"))
        session.execute(update(models.Protocol).where(models.Protocol.created_by == "system").values(version=2))
    start = cli("demo", "--if-empty", "--no-photos", "--limit", "1")
    assert start.returncode == 0, start.stderr
    assert "(3 protocols)" in start.stdout and usernames(clinic) == []


def test_look_alike_and_reserved_usernames_are_refused_and_typed_forms_sign_in(clinic):
    add(BOSS)
    add("dr.lee", "clinician")
    for name, why in (("b\u043ess", "letters a–z"),  # a Cyrillic о: a second 'boss' to the eye
                      ("@@@", "beginning with a letter"), ("-boss", "beginning with a letter"),
                      ("bo\u200bss", "letters a–z"), ("\uff22\uff2f\uff33\uff33", "is taken"),  # ＢＯＳＳ is boss
                      ("demo.admin", "reserved"), ("Demo.Patient", "reserved"), ("demo", "reserved"),
                      ("system", "reserved")):
        refused = cli("user", "add", "--role", "admin", f"--username={name}", "--password-stdin",
                      stdin=PHRASE + "\n")
        assert refused.returncode == 1 and why in refused.stderr, (name, refused.stderr)
        assert refused.stderr.count("\n") == 1
    assert usernames(clinic) == [BOSS, "dr.lee"]
    made = cli("user", "add", "--role", "clinician", "--username", "\uff24\uff32.\uff2b\uff29\uff2d",
               "--password-stdin", stdin=PHRASE + "\n")  # typed full-width: stored as its plain letters
    assert made.returncode == 0 and "'dr.kim'" in made.stdout, made.stderr
    assert sign_in("\uff22\uff2f\uff33\uff33", PHRASE, url=clinic).username == BOSS  # typed as it was created
    try:
        sign_in("b\u043ess", PHRASE, url=clinic)
        raise AssertionError("a look-alike signed in")
    except PermissionDenied as refusal:
        assert str(refusal) == REFUSED
    disabled = cli("user", "disable", "\uff24\uff32.\uff2c\uff25\uff25")  # admin commands normalise alike
    assert disabled.returncode == 0 and "Disabled 'dr.lee'" in disabled.stdout, disabled.stderr


def test_password_stdin_drops_the_line_break_and_refuses_control_characters_and_bad_utf8(clinic):
    crlf = cli_bytes("user", "add", "--role", "admin", "--username", BOSS, "--password-stdin",
                     stdin=PHRASE.encode() + b"\r\n")  # a line from a Windows file
    assert crlf.returncode == 0, crlf.stderr
    assert sign_in(BOSS, PHRASE, url=clinic).username == BOSS  # what a browser sends: no '\r'
    for stdin, why in ((b"long enough\x00phrase 42\n", b"control characters"),
                       (b"long enough\tphrase 42\n", b"control characters"),
                       (b"long enough phrase 42\r\r\n", b"control characters"),
                       (b"long enough phr\xe9se 42\n", b"not valid UTF-8"),
                       (b"\xff\xfe long enough phrase\n", b"not valid UTF-8")):
        refused = cli_bytes("user", "add", "--role", "clinician", "--username", "dr.lee", "--password-stdin",
                            stdin=stdin)
        assert refused.returncode == 1 and why in refused.stderr, (stdin, refused.stderr)
        assert refused.stderr.count(b"\n") == 1
    assert usernames(clinic) == [BOSS]
    umlaut = cli_bytes("user", "add", "--role", "clinician", "--username", "dr.lee", "--password-stdin",
                       stdin="long enough phräse 42\n".encode())
    assert umlaut.returncode == 0, umlaut.stderr
    assert sign_in("dr.lee", "long enough phräse 42", url=clinic).username == "dr.lee"


def test_command_line_actions_name_the_os_user_and_user_list_is_an_audited_view(clinic):
    add(BOSS)
    listed = cli("user", "list")
    assert listed.returncode == 0 and BOSS in listed.stdout
    with transaction(clinic) as session:
        entries = session.execute(select(models.AuditEntry.username, models.AuditEntry.action, models.AuditEntry.detail)
                                  .order_by(models.AuditEntry.id)).all()
        created_by = session.scalar(select(models.User.created_by))
    who = f"cli:user ({os_user()})"
    assert entries == [(who, "account", f"created admin account {BOSS}"), (who, "view", "accounts list: 1 shown")]
    assert created_by == "cli:user"  # rows keep the command's name (db/models.py); the trail adds who ran it
    found = audit.browse(command_line_actor("test"), username="CLI:USER")  # the command's name finds them
    assert [row.username for row in found if row.action in ("account", "view")] == [who, who]
    assert cli("audit", "verify").returncode == 0
