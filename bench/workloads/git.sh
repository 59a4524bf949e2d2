#!/bin/sh
# Timed part of the git workload of the FtMalloc benchmark suite. Runs in a fresh copy of a
# generated source tree: init, add and commit it, apply COMMITS generated change sets (each a
# folder OVERLAYS/<i> copied over the tree) with a commit each, then gc and fsck. The harness sets
# a fixed author, committer and dates, so the printed HEAD is the same under every allocator.
#
# usage: git.sh OVERLAYS COMMITS
set -e
git init -q -b main .
git add -A
git commit -q -m "initial import"
i=1
while [ "$i" -le "$2" ]; do
    cp -R "$1/$i/." .
    git add -A
    git commit -q -m "change $i"
    i=$((i + 1))
done
git gc -q
git fsck --no-progress --no-dangling
echo "head $(git rev-parse HEAD)"
git count-objects -v | grep -E '^(count|in-pack):'
echo OK
