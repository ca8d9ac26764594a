# -*- test-case-name: tests.grid.test_http -*-
"""The grid workers' and the map's API calls in the console's OpenAPI document."""

from __future__ import annotations

from typing import Any

from hotline.grid.schemas import REPORT_CATEGORIES, TaskResult, VisitSubject
from hotline.tickets.schemas import TicketKind
from hotline.web.openapi import _errors, _json, _path, _query

__all__ = ["paths"]

_OBJ: dict[str, Any] = {"type": "object"}
_LIST: dict[str, Any] = {"type": "array", "items": _OBJ}
_SESSION = [{"session": []}]
_WRITE = [{"session": [], "csrf": []}]
_KEY = {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$",
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


def paths() -> dict[str, Any]:
    """OpenAPI path items of hotline.grid.http's JSON calls."""
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
                         "key": _KEY, "made_at": {"type": "string", "format": "date-time"},
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
                         "key": _KEY,
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
                "key": _KEY, "result": {"type": "string", "enum": [r.value for r in TaskResult]},
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
