# -*- test-case-name: tests.web.test_api -*-
"""The OpenAPI 3.1 document of the JSON API and the Open311 endpoints (``/api/openapi.json``).

One document for every package's calls (the grid's in ``_grid_paths``)."""

from __future__ import annotations

from typing import Any

from hotline.grid.schemas import REPORT_CATEGORIES, TaskResult, VisitSubject
from hotline.tickets.schemas import CHANNELS, TicketKind, TicketStatus
from hotline.web.routing import Ctx, Response, Router, json_response

__all__ = ["document", "register"]

_ERROR = {"$ref": "#/components/schemas/Error"}
_OPEN311_ERROR = {"$ref": "#/components/schemas/Open311Errors"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "bad input (the message names the field)", 401: "not signed in",
            403: "role not allowed, or CSRF token missing", 404: "not found",
            409: "not allowed in the current state", 415: "body is not JSON",
            429: "too many attempts for now (Retry-After says how long)",
            503: "the PBX link or the service is not available"}
    return {str(c): _json(_ERROR, text[c]) for c in codes}


def _open311_errors(*codes: int) -> dict[str, Any]:
    text = {400: "bad fields", 401: "no api_key", 403: "api_key unknown or revoked",
            404: "no such service or request"}
    return {str(c): _json(_OPEN311_ERROR, text[c]) for c in codes}


def _query(name: str, schema: dict[str, Any], description: str = "",
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


def _path(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


_OBJ: dict[str, Any] = {"type": "object"}
_SPY_MODES = ["listen", "whisper", "barge"]
_SPY_SESSION = _path("session", {"type": "string", "pattern": "^sp-[0-9a-f]{1,32}$"})
_SESSION = [{"session": []}]
_WRITE = [{"session": [], "csrf": []}]
_KEY = [{"open311Key": []}, {"open311KeyQuery": []}]
_API_KEY_PARAM = {**_query("api_key", {"type": "string", "maxLength": 200},
                           "the intake channel's key; prefer the X-API-Key header"),
                  "deprecated": True}


def register(router: Router) -> None:
    """Serve the document at ``/api/openapi.json``, without sign-in: it describes the API and
    holds no data."""
    async def serve(ctx: Ctx) -> Response:
        return json_response(document(ctx.console))
    router.add("GET", "/api/openapi.json", serve, roles=None)


def document(console: Any = None) -> dict[str, Any]:
    """The document; ``console`` is unused today (one document for every site)."""
    kinds = [k.value for k in TicketKind]
    statuses = [s.value for s in TicketStatus]
    ticket_id = _path("ticket_id", {"type": "integer", "minimum": 0, "maximum": 999_999_999})
    draft_key = _path("key", {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"})
    paths: dict[str, Any] = {
        "/api/me": {"get": {"summary": "The signed-in user and their CSRF token",
                            "security": _SESSION,
                            "responses": {"200": _json(_OBJ), **_errors(401)}}},
        "/api/tickets": {
            "get": {"summary": "Tickets, newest first (a liaison: their department's)",
                    "security": _SESSION,
                    "parameters": [
                        _query("status", {"type": "string", "enum": statuses}),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
                        _query("offset", {"type": "integer", "minimum": 0,
                                          "maximum": 1_000_000})],
                    "responses": {"200": _json(_OBJ), **_errors(400, 401, 403)}},
            "post": {"summary": "File a ticket from the desk (channel hotline unless given). "
                                "A promised_reply_at without a zone is site-local time.",
                     "security": _WRITE,
                     "parameters": [_query("draft", {"type": "string"},
                                           "draft key to delete once filed")],
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"$ref": "#/components/schemas/TicketIn"}}}},
                     "responses": {"201": _json({"$ref": "#/components/schemas/Ticket"}),
                                   **_errors(400, 401, 403, 415)}}},
        "/api/tickets/{ticket_id}": {"get": {
            "summary": "One ticket with its events", "security": _SESSION,
            "parameters": [ticket_id],
            "responses": {"200": _json({"$ref": "#/components/schemas/Ticket"}),
                          **_errors(401, 403, 404)}}},
        "/api/calls": {"get": {"summary": "Live calls and the wallboard figures",
                               "security": _SESSION,
                               "responses": {"200": _json(_OBJ), **_errors(401, 403, 503)}}},
        "/api/callers/{number}": {"get": {
            "summary": "Who is calling: repeat flag, open tickets, last contacts",
            "security": _SESSION,
            "parameters": [_path("number", {"type": "string", "maxLength": 30})],
            "responses": {"200": _json(_OBJ), **_errors(400, 401, 403)}}},
        "/api/directory": {"get": {
            "summary": "Search the municipal hotlines by name, keyword or pinyin initials",
            "security": _SESSION,
            "parameters": [_query("q", {"type": "string", "maxLength": 100}),
                           _query("category", {"type": "string", "maxLength": 50}),
                           _query("open_now", {"type": "boolean"}),
                           _query("limit", {"type": "integer", "minimum": 1, "maximum": 100})],
            "responses": {"200": _json(_OBJ), **_errors(400, 401, 403)}}},
        "/api/agents": {"get": {"summary": "Agents on record and in the live view",
                                "security": _SESSION,
                                "responses": {"200": _json(_OBJ), **_errors(401, 403, 503)}}},
        "/api/agents/me/{action}": {"post": {
            "summary": "Log the user's seat in or out of the queue, pause (with a reason) or "
                       "resume", "security": _WRITE,
            "parameters": [_path("action", {"type": "string",
                                            "enum": ["login", "logout", "pause", "resume"]})],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"reason": {"type": "string",
                                                             "maxLength": 100}}}}}},
            "responses": {"200": _json(_OBJ), **_errors(400, 401, 403, 404, 409, 415, 503)}}},
        "/api/floor/spy": {
            "get": {"summary": "Supervisors' phones listening to live calls now (监听/耳语/强插)",
                    "security": _SESSION,
                    "responses": {"200": _json(_OBJ), **_errors(401, 403, 503)}},
            "post": {"summary": "Ring the supervisor's seat phone (or `seat`) into a live call "
                                "talking with an agent: listen, whisper to the agent, or barge "
                                "in; audited, the agent is not told", "security": _WRITE,
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object", "required": ["call"], "properties": {
                             "call": {"type": "string", "maxLength": 64},
                             "mode": {"type": "string", "enum": _SPY_MODES},
                             "seat": {"type": "string", "maxLength": 16}}}}}},
                     "responses": {"201": _json(_OBJ),
                                   **_errors(400, 401, 403, 404, 409, 415, 503)}}},
        "/api/floor/spy/{session}": {
            "post": {"summary": "Switch a listening session's mode; the phone keeps its call",
                     "security": _WRITE, "parameters": [_SPY_SESSION],
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object", "required": ["mode"], "properties": {
                             "mode": {"type": "string", "enum": _SPY_MODES}}}}}},
                     "responses": {"200": _json(_OBJ),
                                   **_errors(400, 401, 403, 404, 409, 415, 503)}},
            "delete": {"summary": "Hang the supervisor's phone up; the call goes on",
                       "security": _WRITE, "parameters": [_SPY_SESSION],
                       "responses": {"200": _json(_OBJ), **_errors(401, 403, 404, 503)}}},
        "/api/floor/kept": {"get": {
            "summary": "Kept places (keep-my-place callbacks), newest first, with the ordering "
                       "rule: callers are served in the order they joined the queue; "
                       "`callback` is the scheduler's callback that calls one back",
            "security": _SESSION, "responses": {"200": _json(_OBJ), **_errors(401, 403, 503)}}},
        "/api/floor/kept/{key}": {"delete": {
            "summary": "Give up a kept place still waiting: its stand-in leaves the queue",
            "security": _WRITE,
            "parameters": [_path("key", {"type": "string", "maxLength": 64})],
            "responses": {"200": _json(_OBJ), **_errors(401, 403, 404, 409, 503)}}},
        "/api/floor/wrapup": {"get": {
            "summary": "The user's seat: after-call work time (话后整理) and what is left of it",
            "security": _SESSION, "responses": {"200": _json(_OBJ), **_errors(401, 403, 503)}}},
        "/api/floor/wrapup/end": {"post": {
            "summary": "End the user's after-call work early: the queue may ring the seat",
            "security": _WRITE, "responses": {"200": _json(_OBJ),
                                              **_errors(401, 403, 409, 503)}}},
        "/api/reports/service": {"get": {
            "summary": "Service figures by hour or day: answered within reports.service_level_s "
                       "(15 s), connection and abandon rates, average and longest wait",
            "security": _SESSION,
            "parameters": [_query("from", {"type": "string", "format": "date"}, required=True),
                           _query("to", {"type": "string", "format": "date"}, required=True),
                           _query("by", {"type": "string", "enum": ["hour", "day"]})],
            "responses": {"200": _json(_OBJ), **_errors(400, 401, 403)}}},
        "/api/reports/pressure": {"get": {
            "summary": "One day's pressure curve with its critical thresholds (reports."
                       "pressure_*): per step the most calls waiting, the service level at "
                       "reports.service_level_s and the fewest agents free, and every moment a "
                       "threshold was crossed and recovered",
            "security": _SESSION,
            "parameters": [_query("date", {"type": "string", "format": "date"}, required=True),
                           _query("step", {"type": "integer",
                                           "enum": [5, 10, 15, 20, 30, 60]})],
            "responses": {"200": _json(_OBJ), **_errors(400, 401, 403)}}},
        "/api/bridge": {
            "get": {"summary": "The three-way call (三方通话) at the user's seat: participants, "
                               "the last failure, which actions apply", "security": _SESSION,
                    "responses": {"200": _json({"$ref": "#/components/schemas/BridgeRoom"}),
                                  **_errors(401, 403, 404, 409, 503)}},
            "post": {"summary": "Bridge the user's own current call to a directory entry "
                                "(optionally one of its fallback numbers); `call` names the "
                                "call the page shows and must be the user's current call",
                     "security": _WRITE,
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"$ref": "#/components/schemas/BridgeIn"}}}},
                     "responses": {"201": _json({"$ref": "#/components/schemas/BridgeRoom"}),
                                   **_errors(400, 401, 403, 404, 409, 415, 503)}}},
        "/api/bridge/{action}": {"post": {
            "summary": "On the user's current call's room: leave (citizen and department go "
                       "on), drop-department, or fallback (dial the entry's next number)",
            "security": _WRITE,
            "parameters": [_path("action", {"type": "string",
                                            "enum": ["leave", "drop-department", "fallback"]})],
            "responses": {"200": _json({"$ref": "#/components/schemas/BridgeRoom"}),
                          **_errors(401, 403, 404, 409, 503)}}},
        "/api/callbacks": {"get": {
            "summary": "Callbacks due that the user may take, soonest first",
            "security": _SESSION,
            "parameters": [_query("limit", {"type": "integer", "minimum": 1, "maximum": 200})],
            "responses": {"200": _json(_OBJ), **_errors(400, 401, 403)}}},
        "/api/callbacks/{callback_id}/dial": {"post": {
            "summary": "Dial a callback now (回拨): the scheduler rings the user's seat, then the "
                       "citizen, and records the attempt; refused while it is being placed, "
                       "after it ended, when it is another agent's, while the seat is on a "
                       "call or when no scheduler runs",
            "security": _WRITE,
            "parameters": [_path("callback_id", {"type": "integer", "minimum": 0,
                                                 "maximum": 999_999_999})],
            "responses": {"202": _json(_OBJ, "the attempt is claimed and dialling; its outcome "
                                             "follows on /api/events"),
                          **_errors(401, 403, 404, 409, 503)}}},
        "/api/transcripts/latest": {"get": {
            "summary": "The transcript of the last finished call at the user's seat (speakers "
                       "市民/坐席/部门), or where its speech-to-text job stands",
            "security": _SESSION,
            "responses": {"200": _json(_OBJ), **_errors(401, 403, 404, 409)}}},
        "/api/drafts/{key}": {
            "get": {"summary": "A ticket form's draft", "security": _SESSION,
                    "parameters": [draft_key],
                    "responses": {"200": _json(_OBJ), **_errors(400, 401, 403, 404)}},
            "put": {"summary": "Keep what the form holds now", "security": _WRITE,
                    "parameters": [draft_key],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"type": "object", "required": ["data"], "properties": {
                            "data": {"type": "object",
                                     "additionalProperties": {"type": "string"}}}}}}},
                    "responses": {"200": _json(_OBJ), **_errors(400, 401, 403, 415)}},
            "delete": {"summary": "Drop a draft", "security": _WRITE,
                       "parameters": [draft_key],
                       "responses": {"200": _json(_OBJ), **_errors(400, 401, 403)}}},
        "/api/audit": {"get": {
            "summary": "The audit log, newest first (supervisor, admin)", "security": _SESSION,
            "parameters": [_query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                           _query("actor", {"type": "string", "maxLength": 64})],
            "responses": {"200": _json(_OBJ), **_errors(400, 401, 403)}}},
        "/api/events": {"get": {
            "summary": "Server-Sent Events: pop, call, agent, bridge, callback, transcript "
                       "(desk roles)",
            "security": _SESSION,
            "responses": {"200": {"description": "an event stream",
                                  "content": {"text/event-stream": {"schema":
                                                                    {"type": "string"}}}},
                          **_errors(401, 403, 503)}}},
        "/open311/v2/services.json": {"get": {
            "summary": "GeoReport v2 services (the five kinds of request)", "security": [],
            "responses": {"200": _json({"type": "array", "items": _OBJ})}}},
        "/open311/v2/requests.json": {
            "get": {"summary": "The key's channel's service requests (no phone numbers)",
                    "security": _KEY,
                    "parameters": [
                        _API_KEY_PARAM,
                        _query("service_request_id", {"type": "string", "maxLength": 2000}),
                        _query("service_code", {"type": "string", "enum": kinds}),
                        _query("status", {"type": "string", "enum": ["open", "closed"]}),
                        _query("start_date", {"type": "string", "format": "date-time"}),
                        _query("end_date", {"type": "string", "format": "date-time"})],
                    "responses": {"200": _json({"type": "array", "items": _OBJ}),
                                  **_open311_errors(400, 401, 403)}},
            "post": {"summary": "File a service request (a ticket on the key's channel)",
                     "security": _KEY,
                     "requestBody": {"required": True, "content": {
                         "application/x-www-form-urlencoded": {"schema": {
                             "$ref": "#/components/schemas/Open311RequestIn"}}}},
                     "responses": {"201": _json({"type": "array", "items": {
                         "type": "object", "properties": {
                             "service_request_id": {"type": "string"},
                             "service_notice": {"type": "string"},
                             "possible_duplicates": {
                                 "type": "array", "items": {"type": "string"},
                                 "description": "open requests that may be the same problem "
                                                "(same grid or category, similar content)"}}}}),
                                   **_open311_errors(400, 401, 403, 404)}}},
        "/open311/v2/requests/{service_request_id}.json": {"get": {
            "summary": "One service request", "security": _KEY,
            "parameters": [_path("service_request_id", {"type": "string",
                                                        "pattern": "^[A-Za-z0-9-]{1,40}$"}),
                           _API_KEY_PARAM],
            "responses": {"200": _json({"type": "array", "items": _OBJ}),
                          **_open311_errors(401, 403, 404)}}},
    }
    from hotline.civic.http import openapi_paths as civic_paths
    from hotline.indices.http import openapi_paths as indices_paths
    from hotline.tickets.life_api import openapi_paths, openapi_schemas

    paths.update(_grid_paths())
    paths.update(openapi_paths())
    paths.update(_duplicate_paths())
    paths.update(indices_paths())
    paths.update(civic_paths())
    return {
        "openapi": "3.1.0",
        "info": {"title": "365 Hotline console API", "version": "1",
                 "description": "Signed-in calls use the console's session cookie; "
                                "state-changing ones also the X-CSRF-Token header (GET "
                                "/api/me returns it). Open311 calls use an api_key."},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "hl_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
                "open311Key": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "open311KeyQuery": {"type": "apiKey", "in": "query", "name": "api_key"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error_id", "message"],
                          "properties": {"error_id": {"type": "string"},
                                         "message": {"type": "string"},
                                         "details": {"type": "object"}}},
                "Open311Errors": {"type": "array", "items": {
                    "type": "object", "required": ["code", "description"],
                    "properties": {"code": {"type": "integer"},
                                   "description": {"type": "string"}}}},
                "TicketIn": {"type": "object", "required": ["kind", "description"],
                             "properties": {
                                 "kind": {"type": "string", "enum": kinds},
                                 "channel": {"type": "string", "enum": list(CHANNELS)},
                                 "description": {"type": "string", "maxLength": 10000},
                                 "phone": {"type": "string", "maxLength": 20},
                                 "citizen_name": {"type": "string", "maxLength": 50},
                                 "category": {"type": "string", "maxLength": 50},
                                 "address": {"type": "string", "maxLength": 200},
                                 "grid": {"type": "string", "maxLength": 32},
                                 "department": {"type": "string", "maxLength": 32},
                                 "promised_reply_at": {"type": "string"},
                                 "call_uniqueid": {"type": "string", "maxLength": 64},
                                 "latitude": {"type": "number", "minimum": -90,
                                              "maximum": 90},
                                 "longitude": {"type": "number", "minimum": -180,
                                               "maximum": 180}}},
                "BridgeIn": {"type": "object", "required": ["entry"],
                             "additionalProperties": False,
                             "properties": {
                                 "entry": {"type": "integer", "minimum": 1,
                                           "maximum": 99_999_999,
                                           "description": "a directory entry's id"},
                                 "number": {"type": "string", "pattern": "^[0-9]{3,20}$",
                                            "description": "one of the entry's numbers"},
                                 "call": {"type": "string", "minLength": 1, "maxLength": 64,
                                          "description": "the uniqueid of the call the page "
                                                         "shows"}}},
                "BridgeRoom": {"type": "object",
                               "required": ["room", "participants", "ended"],
                               "properties": {
                                   "room": {"type": "string"},
                                   "version": {"type": "integer", "minimum": 0,
                                               "description": "grows with each change of "
                                                              "the room: keep the newest "
                                                              "view"},
                                   "call_id": {"type": "integer"},
                                   "entry": {"type": "object"},
                                   "participants": {"type": "array", "items": {
                                       "type": "object", "required": ["role", "state"],
                                       "properties": {
                                           "role": {"type": "string", "enum": [
                                               "citizen", "agent", "department"]},
                                           "state": {"type": "string"},
                                           "state_text": {"type": "string"},
                                           "number": {"type": "string"},
                                           "outcome": {"type": ["string", "null"]}}}},
                                   "failure": {"type": ["object", "null"]},
                                   "numbers_left": {"type": "array",
                                                    "items": {"type": "string"}},
                                   "ended": {"type": "boolean"},
                                   "can_leave": {"type": "boolean"},
                                   "can_drop": {"type": "boolean"},
                                   "can_fallback": {"type": "boolean"}}},
                "Ticket": {"type": "object", "required": ["id", "number", "status"],
                           "properties": {"id": {"type": "integer"},
                                          "number": {"type": "string"},
                                          "status": {"type": "string", "enum": statuses},
                                          "kind": {"type": "string"},
                                          "citizen_phone": {"type": ["string", "null"]}}},
                "Open311RequestIn": {"type": "object", "required": ["service_code"],
                                     "properties": {
                                         "api_key": {"type": "string"},
                                         "service_code": {"type": "string"},
                                         "description": {"type": "string"},
                                         "lat": {"type": "number"},
                                         "long": {"type": "number"},
                                         "address_string": {"type": "string"},
                                         "phone": {"type": "string"},
                                         "first_name": {"type": "string"},
                                         "last_name": {"type": "string"},
                                         "email": {"type": "string"},
                                         "attribute[category]": {"type": "string"},
                                         "attribute[grid]": {"type": "string"}}},
                **openapi_schemas()},
        },
    }


# -- the map and the grid workers (hotline.grid.http) ----------------------------------------------

_LIST: dict[str, Any] = {"type": "array", "items": _OBJ}
_PHONE_KEY = {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$",
              "description": "the phone's idempotency key: the same key is filed once"}
_PHOTOS = {"type": "array", "items": {"type": "string", "format": "binary"}, "maxItems": 4,
           "description": "JPEG, PNG or WebP; resized and stored without EXIF"}
_ID = {"type": "integer", "minimum": 0, "maximum": 999_999_999}
_DAY = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}


def _multipart(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": required, "properties": properties}}}}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": required, "properties": properties}}}}


def _grid_paths() -> dict[str, Any]:
    """The map's and the grid workers' calls (hotline.grid.http)."""
    kinds = [k.value for k in TicketKind]
    return {
        "/api/grid/me": {"get": {
            "summary": "The signed-in grid worker: grid, sub-grids, open tasks, CSRF token",
            "security": _SESSION, "responses": {"200": _json(_OBJ), **_errors(401, 403)}}},
        "/api/grid/reports": {
            "get": {"summary": "The grid worker's own reports, newest first",
                    "security": _SESSION,
                    "responses": {"200": _json(_LIST), **_errors(401, 403)}},
            "post": {"summary": "Report a problem found on a walk: a ticket on the grid_worker "
                                "channel, in the sub-grid of its position (201; 200 with the "
                                "first ticket when the key was seen before)",
                     "security": _WRITE,
                     "requestBody": _multipart({
                         "key": _PHONE_KEY, "made_at": {"type": "string", "format": "date-time"},
                         "category": {"type": "string", "maxLength": 50,
                                      "examples": list(REPORT_CATEGORIES)},
                         "description": {"type": "string", "maxLength": 5000},
                         "kind": {"type": "string", "enum": kinds},
                         "latitude": {"type": "number", "minimum": -90, "maximum": 90},
                         "longitude": {"type": "number", "minimum": -180, "maximum": 180},
                         "address": {"type": "string", "maxLength": 200},
                         "photo": _PHOTOS}, ["key", "category", "description"]),
                     "responses": {"200": _json(_OBJ), "201": _json(_OBJ),
                                   **_errors(400, 401, 403)}}},
        "/api/grid/visits": {
            "get": {"summary": "The grid worker's recent visits (走访)", "security": _SESSION,
                    "responses": {"200": _json(_LIST), **_errors(401, 403)}},
            "post": {"summary": "Record a visit to a household or key person",
                     "security": _WRITE,
                     "requestBody": _body({
                         "key": _PHONE_KEY,
                         "subject": {"type": "string", "enum": [s.value for s in VisitSubject]},
                         "visitee": {"type": "string", "maxLength": 100},
                         "notes": {"type": "string", "maxLength": 5000},
                         "visited_at": {"type": "string", "format": "date-time"},
                         "latitude": {"type": "number"}, "longitude": {"type": "number"}},
                         ["key", "subject", "visitee", "notes"]),
                     "responses": {"200": _json(_OBJ), "201": _json(_OBJ),
                                   **_errors(400, 401, 403, 415)}}},
        "/api/grid/tasks": {"get": {
            "summary": "The grid worker's verification tasks (open=1: open ones only)",
            "security": _SESSION, "parameters": [_query("open", {"type": "string",
                                                                 "enum": ["0", "1"]})],
            "responses": {"200": _json(_LIST), **_errors(401, 403)}}},
        "/api/grid/tasks/{task_id}/answer": {"post": {
            "summary": "Answer a verification task with the result and photos",
            "security": _WRITE, "parameters": [_path("task_id", _ID)],
            "requestBody": _multipart({
                "key": _PHONE_KEY, "result": {"type": "string", "enum": [r.value for r in TaskResult]},
                "answer": {"type": "string", "maxLength": 5000}, "photo": _PHOTOS},
                ["key", "result", "answer"]),
            "responses": {"200": _json(_OBJ), "201": _json(_OBJ),
                          **_errors(400, 401, 403, 404, 409)}}},
        "/api/grid/tasks/{task_id}/cancel": {"post": {
            "summary": "Withdraw an open verification task (dispatcher)", "security": _WRITE,
            "parameters": [_path("task_id", _ID)],
            "responses": {"200": _json(_OBJ), **_errors(401, 403, 404, 409)}}},
        "/api/grid/verifications": {"get": {
            "summary": "Every verification task, newest first (dispatcher)",
            "security": _SESSION, "parameters": [_query("open", {"type": "string",
                                                                 "enum": ["0", "1"]})],
            "responses": {"200": _json(_LIST), **_errors(401, 403)}}},
        "/api/grid/log": {
            "get": {"summary": "The grid worker's daily log (民情日志) of a day (default today)",
                    "security": _SESSION, "parameters": [_query("day", _DAY)],
                    "responses": {"200": _json(_OBJ), **_errors(401, 403)}},
            "put": {"summary": "Write or rewrite the daily log (today, or up to 7 days back)",
                    "security": _WRITE,
                    "requestBody": _body({"text": {"type": "string", "maxLength": 20000},
                                          "day": _DAY}, ["text"]),
                    "responses": {"200": _json(_OBJ), **_errors(400, 401, 403, 415)}}},
        "/api/grid/logs": {"get": {
            "summary": "Every grid worker's log of a day (supervisors)", "security": _SESSION,
            "parameters": [_query("day", _DAY)],
            "responses": {"200": _json(_LIST), **_errors(401, 403)}}},
        "/api/grid/areas": {"get": {
            "summary": "The map in force and the areas one level below an area (streets for "
                       "none): street → community → grid → sub-grid",
            "security": _SESSION,
            "parameters": [_query("within", {"type": "string", "maxLength": 32}),
                           _query("geometry", {"type": "string", "enum": ["0", "1"]})],
            "responses": {"200": _json(_OBJ), **_errors(401, 403, 404)}}},
        "/api/grid/locate": {"get": {
            "summary": "The grid and sub-grid of a point, or of an address (address table)",
            "security": _SESSION,
            "parameters": [_query("latitude", {"type": "number", "minimum": -90,
                                               "maximum": 90}),
                           _query("longitude", {"type": "number", "minimum": -180,
                                                "maximum": 180}),
                           _query("address", {"type": "string", "maxLength": 200})],
            "responses": {"200": _json(_OBJ), **_errors(400, 401, 403)}}},
        "/api/grid/map": {
            "get": {"summary": "The map in force as GeoJSON", "security": _SESSION,
                    "responses": {"200": {"description": "GeoJSON FeatureCollection",
                                          "content": {"application/geo+json": {
                                              "schema": _OBJ}}}, **_errors(401, 403)}},
            "post": {"summary": "Import a map (GeoJSON), checked whole: refused with every "
                                "problem listed, nothing changed (admin)",
                     "security": _WRITE,
                     "requestBody": {"required": True, "content": {
                         "application/geo+json": {"schema": _OBJ}}},
                     "responses": {"200": _json(_OBJ), **_errors(400, 401, 403)}}},
        "/api/grid/addresses": {
            "get": {"summary": "The address table as CSV", "security": _SESSION,
                    "responses": {"200": {"description": "CSV", "content": {
                        "text/csv": {"schema": {"type": "string"}}}}, **_errors(401, 403)}},
            "post": {"summary": "Add or update addresses (CSV: address, grid[, latitude, "
                                "longitude]); all or nothing (admin)",
                     "security": _WRITE,
                     "requestBody": {"required": True, "content": {
                         "text/csv": {"schema": {"type": "string"}}}},
                     "responses": {"200": _json(_OBJ), **_errors(400, 401, 403)}}},
        "/api/tickets/{ticket_id}/verify": {"post": {
            "summary": "Send the ticket to the grid worker of its grid to verify on site "
                       "(dispatcher; supervisors and admins until that role exists)",
            "security": _WRITE, "parameters": [_path("ticket_id", _ID)],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"note": {"type": "string",
                                                          "maxLength": 2000}}}}}},
            "responses": {"201": _json(_OBJ), **_errors(400, 401, 403, 404, 409, 415)}}},
        "/api/tickets/{ticket_id}/photos": {"get": {
            "summary": "The ticket's photos (only to whom may see the ticket)",
            "security": _SESSION, "parameters": [_path("ticket_id", _ID)],
            "responses": {"200": _json(_LIST), **_errors(401, 403, 404)}}},
        "/api/tickets/{ticket_id}/photos/{photo_id}": {"get": {
            "summary": "One photo of the ticket (JPEG)", "security": _SESSION,
            "parameters": [_path("ticket_id", _ID), _path("photo_id", _ID)],
            "responses": {"200": {"description": "the photo", "content": {
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
                **_errors(401, 403, 404)}}},
    }


def _duplicate_paths() -> dict[str, Any]:
    """Possible duplicates at intake, co-reporters (一事多诉) and incidents (同类事件批量处理)."""
    ticket_id = _path("ticket_id", {"type": "integer", "minimum": 0, "maximum": 999_999_999})
    incident_id = _path("incident_id", {"type": "integer", "minimum": 0,
                                        "maximum": 999_999_999})
    text = {"type": "string", "maxLength": 5000}
    query = {"type": "object", "properties": {
        "category": {"type": "string", "maxLength": 50},
        "grid": {"type": "string", "maxLength": 32},
        "address": {"type": "string", "maxLength": 200},
        "description": {"type": "string", "maxLength": 10_000},
        "phone": {"type": "string", "maxLength": 20},
        "latitude": {"type": "number", "minimum": -90, "maximum": 90},
        "longitude": {"type": "number", "minimum": -180, "maximum": 180}}}
    candidate = {"type": "object", "properties": {
        "id": {"type": "integer"}, "number": {"type": "string"}, "status": {"type": "string"},
        "kind": {"type": "string"}, "category": {"type": ["string", "null"]},
        "grid": {"type": ["string", "null"]}, "address": {"type": ["string", "null"]},
        "description": {"type": "string"}, "created_at": {"type": "string"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "reason": {"type": "string", "enum": ["same_grid", "same_category", "own"]}}}
    found = {"type": "object", "properties": {
        "grid": {"type": ["string", "null"]},
        "candidates": {"type": "array", "items": candidate},
        "own_open_tickets": {"type": "array", "items": candidate}}}

    def body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "properties": properties, "required": required}}}}

    return {
        "/api/tickets/duplicates": {"post": {
            "summary": "Possible duplicates of what the agent has typed: open tickets of the "
                       "same grid (or address) and category within [tickets] duplicate_days, "
                       "ranked by content similarity, and the caller's own open tickets",
            "security": _WRITE,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": query}}},
            "responses": {"200": _json(found), **_errors(400, 401, 403, 415)}}},
        "/api/tickets/{ticket_id}/duplicates": {"get": {
            "summary": "Possible duplicates of a filed ticket", "security": _SESSION,
            "parameters": [ticket_id],
            "responses": {"200": _json(found), **_errors(401, 403, 404)}}},
        "/api/tickets/{ticket_id}/reporters": {"post": {
            "summary": "Attach a call to an existing open ticket (一事多诉): the caller becomes "
                       "a co-reporter, called back when the ticket is replied",
            "security": _WRITE, "parameters": [ticket_id],
            "requestBody": body({"phone": {"type": "string", "maxLength": 20},
                                 "citizen_name": {"type": "string", "maxLength": 50},
                                 "call_uniqueid": {"type": "string", "maxLength": 64},
                                 "text": {"type": "string", "maxLength": 10_000}}, ["phone"]),
            "responses": {"200": _json(_OBJ), **_errors(400, 401, 403, 404, 409, 415)}}},
        "/api/public/status": {"get": {
            "summary": "The citizen's own status line (no sign-in): a ticket's status, "
                       "department and deadline by its number and the last four digits of the "
                       "reporting phone; 404 when they do not match; no personal data; 429 "
                       "(Retry-After) once the ticket's misses or the client address's "
                       "lookups are spent for now (the phone's status line shares the first)",
            "security": [],
            "parameters": [_query("number", {"type": "string",
                                             "pattern": "^RX[0-9]{8}-[0-9]{6}$"},
                                  required=True),
                           _query("last4", {"type": "string", "pattern": "^[0-9]{4}$"},
                                  required=True)],
            "responses": {"200": _json(_OBJ), **_errors(400, 404, 429)}}},
        "/api/incidents": {"get": {
            "summary": "Incidents: proposed groups of similar open tickets and confirmed ones",
            "security": _SESSION,
            "responses": {"200": _json(_OBJ), **_errors(401, 403)}},
            "post": {
            "summary": "Confirm an incident (同类事件) from two or more open tickets of one kind "
                       "and category",
            "security": _WRITE,
            "requestBody": body({"tickets": {"type": "array", "minItems": 2, "maxItems": 500,
                                             "items": {"type": "string", "maxLength": 24}},
                                 "title": {"type": "string", "maxLength": 200}}, ["tickets"]),
            "responses": {"200": _json(_OBJ), **_errors(400, 401, 403, 404, 409, 415)}}},
        "/api/incidents/{incident_id}": {"get": {
            "summary": "One incident: its tickets and how many citizens were reached",
            "security": _SESSION, "parameters": [incident_id],
            "responses": {"200": _json(_OBJ), **_errors(401, 403, 404)}}},
        "/api/incidents/{incident_id}/dispatch": {"post": {
            "summary": "Dispatch every ticket of the incident to one department, all or none",
            "security": _WRITE, "parameters": [incident_id],
            "requestBody": body({"department": {"type": "string", "maxLength": 32},
                                 "instruction": text}, ["department"]),
            "responses": {"200": _json(_OBJ), **_errors(400, 401, 403, 404, 409, 415)}}},
        "/api/incidents/{incident_id}/reply": {"post": {
            "summary": "One reply for every ticket of the incident (the department accepts "
                       "the dispatched ones with it); every citizen gets a callback",
            "security": _WRITE, "parameters": [incident_id],
            "requestBody": body({"text": text}, ["text"]),
            "responses": {"200": _json(_OBJ), **_errors(400, 401, 403, 404, 409, 415)}}},
    }
