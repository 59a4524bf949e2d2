"""Allocation-heavy Python workload for the FtMalloc benchmark suite.

Run with PYTHONMALLOC=malloc so that every object goes through the C malloc under test instead of
Python's own small-object arena. It builds records (dicts, lists, strings), round-trips them through
JSON, counts words in dicts, deletes half an index, sorts and joins strings, and prints a summary,
a checksum of its results (the same under every allocator) and OK once its own checks passed.

usage: python3 pyalloc.py RECORDS
"""
import hashlib
import json
import sys


def lcg(seed):
    x = seed
    while True:
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        yield x >> 33


def main():
    n = int(sys.argv[1])
    rnd = lcg(12345)
    words = ["".join(chr(97 + next(rnd) % 26) for _ in range(3 + next(rnd) % 8)) for _ in range(2000)]

    records = []
    for i in range(n):
        r = next(rnd)
        records.append({
            "id": i,
            "name": words[r % 2000] + str(i),
            "tags": [words[(r >> k) % 2000] for k in range(r % 6)],
            "score": (r % 100000) / 100.0,
            "child": {"depth": r % 5, "path": "/".join(words[(r >> (3 * k)) % 2000] for k in range(3))},
        })

    text = json.dumps(records, sort_keys=True)
    back = json.loads(text)
    assert back == records, "JSON round trip changed the records"

    freq = {}
    for rec in back:
        for tag in rec["tags"]:
            freq[tag] = freq.get(tag, 0) + 1
        for part in rec["child"]["path"].split("/"):
            freq[part] = freq.get(part, 0) + 1
    assert sum(freq.values()) == sum(len(r["tags"]) + 3 for r in back), "word counts do not add up"

    index = {rec["name"]: rec for rec in back}
    for i, key in enumerate(list(index)):
        if i % 2:
            del index[key]

    lines = [f"{k}:{v}" for k, v in sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))]
    blob = "\n".join(lines).upper().replace("A", "aa")
    pairs = set((rec["id"] % 1000, rec["child"]["depth"]) for rec in back)
    groups = {}
    for rec in back:
        groups.setdefault(rec["child"]["depth"], []).append(rec["score"])

    summary = {
        "records": n,
        "json_bytes": len(text),
        "words": len(freq),
        "index": len(index),
        "blob": len(blob),
        "pairs": len(pairs),
        "groups": {str(k): round(sum(v), 2) for k, v in sorted(groups.items())},
    }
    digest = hashlib.sha256((json.dumps(summary, sort_keys=True) + blob).encode()).hexdigest()
    print(json.dumps(summary, sort_keys=True))
    print("checksum", digest[:16])
    print("OK")


main()
