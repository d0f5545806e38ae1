"""Drives hookd with the official Python Taskcluster client and prints what happened as JSON.

Usage: taskcluster_client.py ROOT_URL CLIENT_ID ACCESS_TOKEN

The Rust test in tests/api/hawk_python.rs starts hookd, runs this script with the venv's Python
(scripts/services/taskcluster_py.sh) and asserts on the printed outcomes. Every call records
either its result or the HTTP status and error code it failed with; nothing is judged here.
"""

import datetime
import json
import sys

import taskcluster
from taskcluster.exceptions import TaskclusterAuthFailure, TaskclusterRestFailure

ROOT_URL, CLIENT_ID, ACCESS_TOKEN = sys.argv[1:4]
GROUP, HOOK = "py-group", "py-hook"
HOOK_BODY = {
    "metadata": {"name": "py", "description": "made by the Python client", "owner": "py@example.com"},
    "task": {
        "provisionerId": "p",
        "workerType": "w",
        "payload": {"from": {"$eval": "payload.who"}},
        "metadata": {"name": "t"},
    },
    "triggerSchema": {"type": "object"},
}


def hooks(credentials, **options):
    return taskcluster.Hooks({"rootUrl": ROOT_URL, "credentials": credentials, "maxRetries": 0, **options})


def outcome(call):
    try:
        return {"ok": call()}
    except (TaskclusterAuthFailure, TaskclusterRestFailure) as e:
        return {"status": e.status_code, "code": (e.body or {}).get("code")}


def main():
    creds = {"clientId": CLIENT_ID, "accessToken": ACCESS_TOKEN}
    client = hooks(creds)
    out = {}
    out["createHook"] = outcome(lambda: client.createHook(GROUP, HOOK, HOOK_BODY))
    out["hook"] = outcome(lambda: client.hook(GROUP, HOOK))
    out["updateHook"] = outcome(lambda: client.updateHook(GROUP, HOOK, {**HOOK_BODY, "metadata": {**HOOK_BODY["metadata"], "name": "py2"}}))
    out["listHookGroups"] = outcome(client.listHookGroups)
    out["listHooks"] = outcome(lambda: client.listHooks(GROUP))
    out["triggerHook"] = outcome(lambda: client.triggerHook(GROUP, HOOK, {"who": "python"}))
    out["getTriggerToken"] = outcome(lambda: client.getTriggerToken(GROUP, HOOK))
    out["resetTriggerToken"] = outcome(lambda: client.resetTriggerToken(GROUP, HOOK))
    token = out["resetTriggerToken"].get("ok", {}).get("token", "none")
    out["triggerHookWithToken"] = outcome(
        lambda: hooks({}).triggerHookWithToken(GROUP, HOOK, token, {"who": "token"})
    )
    out["getHookStatus"] = outcome(lambda: client.getHookStatus(GROUP, HOOK))
    out["listLastFires"] = outcome(lambda: client.listLastFires(GROUP, HOOK))

    narrowed = hooks(creds, authorizedScopes=[f"hooks:get:{GROUP}:*"])
    out["authorizedScopes.hook"] = outcome(lambda: narrowed.hook(GROUP, HOOK))
    out["authorizedScopes.removeHook"] = outcome(lambda: narrowed.removeHook(GROUP, HOOK))
    beyond = hooks(creds, authorizedScopes=["*"]) if CLIENT_ID != "root" else None
    if beyond:
        out["authorizedScopes.beyond"] = outcome(lambda: beyond.hook(GROUP, HOOK))

    now = datetime.datetime.utcnow()
    start, expiry = now - datetime.timedelta(minutes=1), now + datetime.timedelta(hours=1)
    temp = taskcluster.createTemporaryCredentials(CLIENT_ID, ACCESS_TOKEN, start, expiry, [f"hooks:get:{GROUP}:*"])
    out["temporary.hook"] = outcome(lambda: hooks(temp).hook(GROUP, HOOK))
    out["temporary.removeHook"] = outcome(lambda: hooks(temp).removeHook(GROUP, HOOK))
    named = taskcluster.createTemporaryCredentials(
        CLIENT_ID, ACCESS_TOKEN, start, expiry, [f"hooks:get:{GROUP}:*"], name="py-temp"
    )
    out["named.hook"] = outcome(lambda: hooks(named).hook(GROUP, HOOK))
    forged = dict(temp, accessToken=temp["accessToken"][:-2] + b"xx")
    out["temporary.forged"] = outcome(lambda: hooks(forged).hook(GROUP, HOOK))
    expired = taskcluster.createTemporaryCredentials(
        CLIENT_ID, ACCESS_TOKEN, now - datetime.timedelta(hours=3), now - datetime.timedelta(hours=2), ["*"]
    )
    out["temporary.expired"] = outcome(lambda: hooks(expired).hook(GROUP, HOOK))
    out["wrongToken"] = outcome(lambda: hooks({"clientId": CLIENT_ID, "accessToken": "wrong"}).hook(GROUP, HOOK))

    out["removeHook"] = outcome(lambda: client.removeHook(GROUP, HOOK))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
