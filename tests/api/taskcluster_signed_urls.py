"""Makes signed URLs (Hawk bewits) with the official Python Taskcluster client and prints them
as JSON for tests/api/taskcluster_js.rs to judge.

Usage: taskcluster_signed_urls.py ROOT_URL CLIENT_ID ACCESS_TOKEN, with the venv's Python
(scripts/services/taskcluster_py.sh). Nothing is judged here.
"""

import datetime
import json
import sys

import taskcluster

ROOT_URL, CLIENT_ID, ACCESS_TOKEN = sys.argv[1:4]


def hooks(credentials, **options):
    return taskcluster.Hooks({"rootUrl": ROOT_URL, "credentials": credentials, "maxRetries": 0, **options})


def main():
    creds = {"clientId": CLIENT_ID, "accessToken": ACCESS_TOKEN}
    now = datetime.datetime.now(datetime.timezone.utc)
    temporary = taskcluster.createTemporaryCredentials(
        CLIENT_ID, ACCESS_TOKEN, now, now + datetime.timedelta(hours=1), ["hooks:get:js:*"]
    )
    root = hooks(creds)
    narrow = hooks(creds, authorizedScopes=["hooks:get:js:h"])
    urls = {
        "hook": root.buildSignedUrl("hook", "js", "h"),
        "authorizedHook": narrow.buildSignedUrl("hook", "js", "h"),
        "authorizedOther": narrow.buildSignedUrl("hook", "js", "strict"),
        "temporaryHook": hooks(temporary).buildSignedUrl("hook", "js", "h"),
        "temporaryList": hooks(temporary).buildSignedUrl("listHooks", "js"),
        "wrongToken": hooks({"clientId": CLIENT_ID, "accessToken": "not-the-token"}).buildSignedUrl("hook", "js", "h"),
        "shortLived": root.buildSignedUrl("hook", "js", "h", expiration=60),
    }
    print(json.dumps({"urls": urls}))


main()
