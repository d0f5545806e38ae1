#!/usr/bin/env python3
"""Which pages the last commits of an SQLite database wrote, by b-tree.

Reads the database's write-ahead log (`<database>-wal`), keeps the frames of its current
generation (those whose salts match the log's header), groups them into commits (a commit's
last frame carries the database size), and names the b-tree (table or index) and the kind of
page (leaf, internal, overflow) that each frame of the last COMMITS commits holds, from
SQLite's `dbstat` table. Prints the pages per commit, in all and by b-tree and kind.

A durable commit costs an fsync and a write of every page it changed, so pages per commit,
divided by the rows the commit held, say how much a row costs the disk beyond its own bytes.
Run it on a copy of a data directory, or on a live one: it opens the database read-only, and
a page's b-tree is read from the newest snapshot (a page freed since then is counted as `?`).

Usage: scripts/wal_pages.py <database file> [COMMITS, default 50]
"""

import collections
import sqlite3
import struct
import sys

WAL_HEADER = 32
FRAME_HEADER = 24
WAL_MAGICS = (0x377F0682, 0x377F0683)


def commits_of(wal):
    """The current generation's commits in log order, each a list of page numbers."""
    magic, _version, page_size, _checkpoint, salt1, salt2 = struct.unpack(
        ">IIIIII", wal[:24]
    )
    if magic not in WAL_MAGICS:
        sys.exit("not an SQLite write-ahead log")
    commits, pages, offset = [], [], WAL_HEADER
    while offset + FRAME_HEADER + page_size <= len(wal):
        page, size_after, frame_salt1, frame_salt2 = struct.unpack(
            ">IIII", wal[offset : offset + 16]
        )
        if (frame_salt1, frame_salt2) != (salt1, salt2):
            break  # the rest was written before the log last started over
        pages.append(page)
        if size_after:
            commits.append(pages)
            pages = []
        offset += FRAME_HEADER + page_size
    return commits


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    database = sys.argv[1]
    wanted = int(sys.argv[2]) if len(sys.argv) == 3 else 50
    try:
        with open(database + "-wal", "rb") as f:
            commits = commits_of(f.read())[-wanted:]
    except FileNotFoundError:
        sys.exit("no write-ahead log beside the database (its last connection removes it)")
    if not commits:
        sys.exit("the log holds no commit")
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    owner = {
        page: (name, kind)
        for name, page, kind in connection.execute(
            "SELECT name, pageno, pagetype FROM dbstat"
        )
    }
    counts = collections.Counter(
        owner.get(page, ("?", "?")) for pages in commits for page in pages
    )
    total = sum(len(pages) for pages in commits)
    print(f"{len(commits)} commits, {total / len(commits):.1f} pages per commit")
    for (name, kind), n in counts.most_common():
        print(f"{n / len(commits):7.2f}  {name} ({kind})")


if __name__ == "__main__":
    main()
