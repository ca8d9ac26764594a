"""Tests for L{hotline.agi.scripts.status}: the status line's dialogue with a caller, driven
through the real FastAGI protocol with Asterisk's replies played by a scripted caller; and on
the real PBX, a citizen of the city simulator pressing 2 and keying the digits."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.trial.unittest import SynchronousTestCase

from db.models import Department
from hotline.agi.routes import RouteTable
from hotline.agi.scripts import status
from hotline.agi.scripts.status import StatusReply
from hotline.tickets.service import TicketService
from tests.agi.support import Session, block_for
from tests.support.hotline import wait_final_call
from tests.support.waiting import until

SETTINGS = {"tries": 3, "digit_timeout_s": 6.0, "menu_wait_s": 2.0, "script_timeout_s": 180.0}
NUMBER = "20261126000123"
ANSWER = ("status-intro", "status-handling", "status-department", "said/phrase-1",
          "reminder-due", "num-10", "digit-2", "word-yue")
STATUS_OK = b'SET VARIABLE "HOTLINE_AGI_STATUS" "OK"\n'


class Caller:
    """Plays Asterisk's side: answers each command the script sends, from a list of keys the
    caller types at the GET DATA prompts (in order) and what they press during/after the end
    prompt; hangs up when the keys run out if ``hang_up`` is set."""

    def __init__(self, keys: list[str], *, after_answer: str = "", hang_up: bool = False):
        self.keys = list(keys)
        self.after_answer = after_answer
        self.hang_up = hang_up
        self.commands: list[str] = []

    def reply(self, line: str) -> bytes:
        self.commands.append(line)
        if line.startswith('GET VARIABLE "SOUNDS"'):
            return b"200 result=1 (/srv/hotline/sounds)\n"
        if line.startswith("GET DATA"):
            if not self.keys:
                return b"HANGUP\n" if self.hang_up else b"200 result= (timeout)\n"
            return f"200 result={self.keys.pop(0)}\n".encode()
        if line.startswith("STREAM FILE") and "status-end" in line and self.after_answer:
            return f"200 result={ord(self.after_answer)} endpos=800\n".encode()
        if line.startswith("STREAM FILE"):
            return b"200 result=0 endpos=2400\n"
        if line.startswith("WAIT FOR DIGIT"):
            return b"200 result=0\n"
        return b"200 result=1\n"


def converse(caller: Caller, lookup: Callable[..., object], *,
             own: tuple[str, ...] | None = None) -> tuple[Session, list[tuple]]:
    """Run the ``status`` script against ``caller``; returns the session and the lookups.
    ``own``: what the lookup by caller number answers (None: the script has no such lookup)."""
    asked: list[tuple] = []

    async def looking(digits: str, last4: str, *, sounds: str) -> StatusReply:
        asked.append((digits, last4, sounds))
        return lookup(digits, last4)  # type: ignore[return-value]

    async def mine(caller_number: str, *, sounds: str) -> StatusReply:
        asked.append(("own", caller_number, sounds))
        return StatusReply(say=own or ())

    routes = RouteTable()
    status.register(routes, lookup=looking, settings=SETTINGS,
                    own=mine if own is not None else None)
    session = Session(routes=routes)
    session.feed(block_for("status"))
    answered = 0
    while not session.transport.disconnecting:
        lines = session.written()
        if len(lines) == answered:
            break
        for line in lines[answered:]:
            answered += 1
            if not session.transport.disconnecting:
                session.feed(caller.reply(line.decode().rstrip("\n")))
    return session, asked


def plays(caller: Caller) -> list[str]:
    """The prompts streamed, by name, in order."""
    return [c.split('"')[1].rsplit("/zh/", 1)[1] for c in caller.commands
            if c.startswith("STREAM FILE")]


class StatusDialogueTests(SynchronousTestCase):
    """The caller keys a ticket number and four digits and hears the answer, or 未找到."""

    def test_found_says_the_answer_then_goodbye(self) -> None:
        """The right number and digits: the answer's prompts in order, the closing prompt that
        takes 0, and HOTLINE_STATUS_DONE so the dialplan says goodbye."""
        caller = Caller([NUMBER, "5678"])
        session, asked = converse(caller, lambda d, l4: StatusReply(say=ANSWER))
        self.assertEqual(asked, [(NUMBER, "5678", "/srv/hotline/sounds")])
        self.assertEqual(caller.commands[1],
                         'GET DATA "/srv/hotline/sounds/zh/status-ask-number" "6000" "15"')
        self.assertEqual(caller.commands[2],
                         'GET DATA "/srv/hotline/sounds/zh/status-ask-last4" "6000" "4"')
        self.assertEqual(plays(caller), [*ANSWER, "status-end"])
        self.assertIn('STREAM FILE "/srv/hotline/sounds/zh/status-end" "0"', caller.commands)
        self.assertIn('WAIT FOR DIGIT "2000"', caller.commands)
        self.assertEqual(caller.commands[-1], 'SET VARIABLE "HOTLINE_STATUS_DONE" "1"')
        self.assertEqual(session.written()[-1], STATUS_OK)

    def test_three_misses_reach_an_agent(self) -> None:
        """Each miss says 未找到 and asks again; after three the caller goes to an agent
        (no HOTLINE_STATUS_DONE: the dialplan queues the call)."""
        caller = Caller([NUMBER, "0000", "123", "5678", "", ""])
        session, asked = converse(caller, lambda d, l4: StatusReply())
        self.assertEqual([a[:2] for a in asked], [(NUMBER, "0000"), ("123", "5678"), ("", "")])
        self.assertEqual(plays(caller), ["status-not-found"] * 3 + ["status-to-agent"])
        self.assertFalse(any("HOTLINE_STATUS_DONE" in c for c in caller.commands))
        self.assertEqual(session.written()[-1], STATUS_OK)

    def test_a_miss_then_the_right_digits(self) -> None:
        """A wrong last four digits gets 未找到, the second try the answer."""
        caller = Caller([NUMBER, "0000", NUMBER, "5678"])
        session, asked = converse(
            caller, lambda d, l4: StatusReply(say=ANSWER) if l4 == "5678" else StatusReply())
        self.assertEqual(len(asked), 2)
        self.assertEqual(plays(caller), ["status-not-found", *ANSWER, "status-end"])
        self.assertEqual(caller.commands[-1], 'SET VARIABLE "HOTLINE_STATUS_DONE" "1"')

    def test_zero_at_the_number_prompt_reaches_an_agent(self) -> None:
        """0 instead of a ticket number: no lookup, straight to an agent."""
        caller = Caller(["0"])
        session, asked = converse(caller, lambda d, l4: StatusReply(say=ANSWER))
        self.assertEqual(asked, [])
        self.assertEqual(plays(caller), [])
        self.assertEqual(session.written()[-1], STATUS_OK)

    def test_zero_after_the_answer_reaches_an_agent(self) -> None:
        """0 during the closing prompt: the caller wants a person after all."""
        caller = Caller([NUMBER, "5678"], after_answer="0")
        converse(caller, lambda d, l4: StatusReply(say=ANSWER))
        self.assertFalse(any("HOTLINE_STATUS_DONE" in c for c in caller.commands))
        self.assertFalse(any(c.startswith("WAIT FOR DIGIT") for c in caller.commands))

    def test_a_throttled_ticket_reaches_an_agent(self) -> None:
        """When the ticket's misses are spent the caller hears so and goes to an agent."""
        caller = Caller([NUMBER, "5678"])
        converse(caller, lambda d, l4: StatusReply(retry_after_s=30.0))
        self.assertEqual(plays(caller), ["status-busy"])
        self.assertFalse(any("HOTLINE_STATUS_DONE" in c for c in caller.commands))

    def test_caller_hanging_up_ends_the_dialogue(self) -> None:
        """A caller who hangs up mid-dialogue ends the script quietly (no status is written)."""
        caller = Caller([NUMBER], hang_up=True)
        session, asked = converse(caller, lambda d, l4: StatusReply(say=ANSWER))
        self.assertEqual(asked, [])
        self.assertNotIn(STATUS_OK, session.written())
        self.assertTrue(session.transport.disconnecting)

    def test_the_callers_own_tickets_first_then_goodbye(self) -> None:
        """The caller's number has open tickets: they are said first, then the caller is asked
        for 1 (another ticket) or 0; pressing nothing ends with the goodbye (STATUS_DONE), no
        number asked."""
        caller = Caller([""])
        session, asked = converse(caller, lambda d, l4: StatusReply(say=ANSWER), own=ANSWER)
        self.assertEqual(asked, [("own", "13800138000", "/srv/hotline/sounds")])
        self.assertEqual(plays(caller), ["status-own", *ANSWER, "status-end"])
        self.assertIn('GET DATA "/srv/hotline/sounds/zh/status-own-more" "6000" "1"',
                      caller.commands)
        self.assertEqual(caller.commands[-1], 'SET VARIABLE "HOTLINE_STATUS_DONE" "1"')

    def test_the_callers_own_tickets_then_1_keys_another(self) -> None:
        """After the caller's own tickets, 1 goes on to key another ticket's number."""
        caller = Caller(["1", NUMBER, "5678"])
        session, asked = converse(caller, lambda d, l4: StatusReply(say=ANSWER), own=ANSWER)
        self.assertEqual(asked[1:], [(NUMBER, "5678", "/srv/hotline/sounds")])
        self.assertEqual(plays(caller), ["status-own", *ANSWER, *ANSWER, "status-end"])
        self.assertEqual(caller.commands[-1], 'SET VARIABLE "HOTLINE_STATUS_DONE" "1"')

    def test_the_callers_own_tickets_then_0_reaches_an_agent(self) -> None:
        """After the caller's own tickets, 0 reaches an agent (no STATUS_DONE)."""
        caller = Caller(["0"])
        converse(caller, lambda d, l4: StatusReply(say=ANSWER), own=ANSWER)
        self.assertFalse(any("HOTLINE_STATUS_DONE" in c for c in caller.commands))
        self.assertFalse(any("status-ask-number" in c for c in caller.commands))

    def test_no_own_tickets_asks_for_a_number_at_once(self) -> None:
        """A caller number with no open ticket: straight to keying a ticket number."""
        caller = Caller([NUMBER, "5678"])
        session, asked = converse(caller, lambda d, l4: StatusReply(say=ANSWER), own=())
        self.assertEqual(asked[0][0], "own")
        self.assertEqual(plays(caller), [*ANSWER, "status-end"])

    def test_the_dialogue_has_its_own_time_limit(self) -> None:
        """The script is registered with script_timeout_s, not the server's few seconds."""
        routes = RouteTable()
        status.register(routes, lookup=lambda *a, **k: None, settings=SETTINGS)
        self.assertEqual(routes.lookup("status").timeout, 180.0)


CALLER = "13912345618"
#: Presses 2, then 0 instead of a ticket number.
WANTS_AGENT = "13912345619"
#: Presses 2, then keys a number no ticket has, three times.
GUESSES = "13912345620"


class Dialogue:
    """What the hotline PBX did on one citizen's call: the menu's Read, and every AGI command
    of the status script (AGIExecStart), in order."""

    def __init__(self, caller: str) -> None:
        self.caller = caller
        self.uniqueid: str | None = None
        self.commands: list[str] = []
        self.queued = False

    def on_newexten(self, m) -> None:
        if m.get("Context") != "inbound" or m.get("CallerIDNum") != self.caller:
            return
        if m.get("Application") == "Read":
            self.uniqueid = m.get("Uniqueid")
        elif m.get("Application") == "Queue":
            self.queued = True

    def on_agi(self, m) -> None:
        if self.uniqueid is not None and m.get("Uniqueid") == self.uniqueid:
            # The command line as sent, its arguments' quotes dropped.
            self.commands.append(str(m.get("Command") or "").replace('"', ""))

    def count(self, fragment: str) -> int:
        return sum(fragment in c for c in self.commands)

    def played(self) -> list[str]:
        return [c.split()[2].rsplit("/zh/", 1)[1] for c in self.commands
                if c.startswith("STREAM FILE")]


@pytest.mark.pbx
@pytest_twisted.ensureDeferred
async def test_a_citizen_hears_where_their_ticket_stands_by_phone(controller, city, pbx_sandbox):
    """The citizen presses 2 after the greeting and first hears their own open ticket, found
    by the number they call from; they press 1, key the ticket number and wrong last four
    digits (未找到, asked again), then the right ones: the PBX plays the status, the
    department and the deadline, says goodbye and hangs up; the call keeps its row. Another
    presses 2 then 0 and is queued for an agent; a third keys a wrong number three times and
    is queued too."""
    ctl = controller
    with ctl.db.begin() as s:
        if s.scalars(select(Department).where(Department.code == "SL18")).first() is None:
            s.add(Department(code="SL18", name="区市政管理处"))
            s.flush()
        service = TicketService()
        ticket = service.intake(s, {"channel": "hotline", "kind": "complaint", "phone": CALLER,
                                    "description": "路灯不亮"}, actor="agent1")
        service.dispatch(s, ticket.id, department="SL18", actor="disp")
        digits = ticket.number[2:].replace("-", "")
    await city.ami.when_ready()
    seen, other, guesser = Dialogue(CALLER), Dialogue(WANTS_AGENT), Dialogue(GUESSES)
    dialogues = (seen, other, guesser)
    subs = [ctl.ami.subscribe("Newexten", d.on_newexten) for d in dialogues]
    subs += [ctl.ami.subscribe("AGIExecStart", d.on_agi) for d in dialogues]
    wait = str(pbx_sandbox.config["status_line"]["menu_wait_s"])
    # Time to press 2 however loaded the machine: the menu's wait is a dialplan global.
    await ctl.ami.action("Setvar", Variable="MENU_WAIT", Value="20")
    try:
        placed = await city.call(CALLER, hold_s=300)
        await until(lambda: seen.uniqueid, timeout=30)
        await city.press(placed.channel_id, "2")
        await until(lambda: seen.count("status-own-more"), timeout=30)
        await city.press(placed.channel_id, "1")
        for asked, last4 in enumerate(("0000", CALLER[-4:]), start=1):
            await until(lambda n=asked: seen.count("status-ask-number") == n, timeout=20)
            await city.press(placed.channel_id, digits + "#")
            await until(lambda n=asked: seen.count("status-ask-last4") == n, timeout=20)
            await city.press(placed.channel_id, last4)
        # The answer, the closing prompt and its wait, the goodbye: the call's hold is 90 s.
        row, _ = await wait_final_call(ctl.db, CALLER, timeout=90)
        # 0 instead of a ticket number: the dialplan queues the call for an agent.
        placed = await city.call(WANTS_AGENT, hold_s=90)
        await until(lambda: other.uniqueid, timeout=30)
        await city.press(placed.channel_id, "2")
        await until(lambda: other.count("status-ask-number"), timeout=20)
        await city.press(placed.channel_id, "0#")
        await until(lambda: other.queued, timeout=20)
        await city.hangup(placed.channel_id)
        await wait_final_call(ctl.db, WANTS_AGENT, timeout=40)
        # A number no ticket has, three times: 未找到 each time, then the queue.
        placed = await city.call(GUESSES, hold_s=90)
        await until(lambda: guesser.uniqueid, timeout=30)
        await city.press(placed.channel_id, "2")
        for asked in (1, 2, 3):
            await until(lambda n=asked: guesser.count("status-ask-number") == n, timeout=20)
            await city.press(placed.channel_id, "20000101000001#")
            await until(lambda n=asked: guesser.count("status-ask-last4") == n, timeout=20)
            await city.press(placed.channel_id, "0000")
        await until(lambda: guesser.queued, timeout=30)
        await city.hangup(placed.channel_id)
        await wait_final_call(ctl.db, GUESSES, timeout=40)
    finally:
        await ctl.ami.action("Setvar", Variable="MENU_WAIT", Value=wait)
        for sub in subs:
            sub.unsubscribe()
    played = seen.played()
    # First the caller's own ticket, found by the number they call from.
    own = played[:played.index("status-not-found")]
    assert own[:3] == ["status-own", "status-intro", "status-dispatched"], seen.commands
    assert "reminder-due" in own, seen.commands
    played = played[len(own):]
    assert played[0] == "status-not-found", seen.commands
    answer = played[1:]
    assert len(answer) > 4 and answer[:3] == ["status-intro", "status-dispatched",
                                              "status-department"], seen.commands
    assert answer[3].startswith("said/phrase-"), seen.commands
    assert answer[-1] == "status-end" and "word-yue" in answer[answer.index("reminder-due"):]
    assert "SET VARIABLE HOTLINE_STATUS_DONE 1" in seen.commands, seen.commands
    assert row.ended_at is not None and row.answered_at is None and row.agent_id is None
    assert not seen.queued and other.queued and other.count("status-ask-last4") == 0
    assert guesser.played() == ["status-not-found"] * 3 + ["status-to-agent"], guesser.commands
    assert "SET VARIABLE HOTLINE_STATUS_DONE 1" not in guesser.commands
