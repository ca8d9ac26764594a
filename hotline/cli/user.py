# -*- test-case-name: tests.web.test_cli -*-
"""``hotline user add|list|passwd|disable|enable`` for console accounts, and
``hotline user apikey-add|apikey-list|apikey-revoke`` for Open311 intake keys."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from hotline.cli.main import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("user", help="web console accounts and Open311 API keys")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    add = verbs.add_parser("add", help="create a console account")
    add.add_argument("name", help="user name (lower-case letters, digits, . _ -)")
    from hotline.web.roles import Role

    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--display-name", help="the name shown in the console (e.g. 张敏)")
    add.add_argument("--agent", metavar="CODE", help="the agent's queue seat (queue.agents)")
    add.add_argument("--department", metavar="CODE", help="a liaison's department code")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    verbs.add_parser("list", help="every account")
    passwd = verbs.add_parser("passwd", help="set a new password (ends the user's sessions)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    for verb in ("disable", "enable"):
        v = verbs.add_parser(verb, help=f"{verb} an account")
        v.add_argument("name")
    key = verbs.add_parser("apikey-add", help="a key another intake channel files tickets with")
    key.add_argument("name")
    key.add_argument("--channel", required=True, help="intake channel code, e.g. wechat")
    verbs.add_parser("apikey-list", help="every API key (never the key itself)")
    revoke = verbs.add_parser("apikey-revoke", help="stop a key working")
    revoke.add_argument("name")
    p.set_defaults(func=_user)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise CommandError("no password on standard input")
        return line
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise CommandError("the two passwords differ")
    return first


def _user(args: argparse.Namespace, cfg: Any) -> int:
    from hotline.cli.database import unit_of_work
    from hotline.web import accounts
    from hotline.web.auth import WeakPassword

    password = _password(args) if args.verb in ("add", "passwd") else None
    try:
        with unit_of_work(cfg) as session:
            if args.verb == "add":
                user = accounts.create_user(
                    session, args.name, role=args.role, password=password,
                    display_name=args.display_name, agent_code=args.agent,
                    department=args.department, known_agents=tuple(cfg["queue"]["agents"]))
                _audit(session, "user.add", user.username, {"role": user.role})
                print(f"user {user.username} ({user.role}) created")
            elif args.verb == "list":
                for u in accounts.list_users(session):
                    extra = u.agent_code or (u.department.code if u.department else "")
                    state = "active" if u.active else "disabled"
                    print(f"{u.username:20} {u.role:10} {extra:8} {state:8} {u.display_name}")
            elif args.verb == "passwd":
                accounts.set_password(session, args.name, password)
                _audit(session, "user.passwd", args.name)
                print(f"password of {args.name} changed; their sessions ended")
            elif args.verb in ("disable", "enable"):
                accounts.set_active(session, args.name, args.verb == "enable")
                _audit(session, f"user.{args.verb}", args.name)
                print(f"user {args.name} {args.verb}d")
            elif args.verb == "apikey-add":
                key, raw = accounts.create_api_key(session, args.name, channel=args.channel)
                _audit(session, "apikey.add", key.name, {"channel": key.channel})
                print(f"API key {key.name} for channel {key.channel} (shown once, keep it):")
                print(raw)
            elif args.verb == "apikey-list":
                for k in accounts.list_api_keys(session):
                    used = k.last_used_at.isoformat() if k.last_used_at else "never"
                    print(f"{k.name:20} {k.prefix}… {k.channel:12} "
                          f"{'active' if k.active else 'revoked':8} last used {used}")
            elif args.verb == "apikey-revoke":
                accounts.revoke_api_key(session, args.name)
                _audit(session, "apikey.revoke", args.name)
                print(f"API key {args.name} revoked")
    except (accounts.AccountError, WeakPassword) as e:
        raise CommandError(str(e)) from None
    return 0


def _audit(session: Any, action: str, target: str, details: dict | None = None) -> None:
    import getpass as gp

    from hotline.web import audit

    audit.record(session, actor=f"cli:{gp.getuser()}", action=action, target=target,
                 details=details)
