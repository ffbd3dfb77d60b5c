#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The patch series: how this repository becomes commits on a 7.3 tree.

The repository holds the files the series adds at their kernel paths, and
for each patch a mail-like description in patches/ (listed in order in
patches/series):

    Subject: mm: add the process_vm_mmap() syscall
                                        <- blank line
    Body of the commit message ...
    Signed-off-by: ...
    ---
    Adds: mm/process_vm_mmap.rs mm/process_vm_mmap_helpers.c
    diff --git a/mm/Makefile b/mm/Makefile   <- changes to existing files
    ...

A file the series adds belongs to exactly one patch (its "Adds:" line); the
diff part changes files of the pristine tree.  Commands:

  check                 every added file exists and is claimed once
  apply PRISTINE SRC    make SRC the pristine tree plus the series, touching
                        only files whose content changes (keeps O= builds
                        incremental)
  export PRISTINE OUT   write `git format-patch` output with a cover letter
                        into OUT and verify that `git am` takes it on a
                        pristine tree
  devtree PRISTINE DIR  a git worktree with one commit per patch, to edit
                        existing kernel files with git (make devtree)
  refresh DIR           write DIR's commits back as the diffs of patches/
                        (make refresh); added files are edited here
"""

import filecmp
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATCHDIR = os.path.join(ROOT, "patches")
# Top-level directories of the repository that mirror the kernel tree.
KERNEL_DIRS = ("arch", "Documentation", "include", "kernel", "mm", "rust",
               "scripts", "tools")
# Files under the kernel dirs that are not part of the series.
# The userspace Rust crate lives in the repository, not in the kernel series.
NOT_SERIES = ("tools/process_vm_mmap/", "tools/criu/")


def die(msg):
    sys.stderr.write("series: %s\n" % msg)
    sys.exit(1)


class Patch:
    def __init__(self, name):
        self.name = name
        path = os.path.join(PATCHDIR, name)
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        self.headers = {}
        i = 0
        while i < len(lines) and lines[i]:
            key, _, val = lines[i].partition(":")
            self.headers[key.strip()] = val.strip()
            i += 1
        if "Subject" not in self.headers:
            die("%s: no Subject header" % name)
        body = []
        i += 1
        while i < len(lines) and lines[i] != "---":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            die("%s: no '---' line after the message" % name)
        self.body = "\n".join(body).strip() + "\n"
        i += 1
        self.adds = []
        while i < len(lines) and lines[i].startswith("Adds:"):
            self.adds += lines[i][len("Adds:"):].split()
            i += 1
        self.diff = "\n".join(lines[i:]).strip("\n")
        self.diff = self.diff + "\n" if self.diff else ""
        self.changes = []
        for line in self.diff.split("\n"):
            if line.startswith("+++ "):
                target = line[4:].split("\t")[0]
                if not target.startswith("b/"):
                    die("%s: diff target %s is not b/..." % (name, target))
                self.changes.append(target[2:])

    @property
    def subject(self):
        return self.headers["Subject"]


def load_series():
    with open(os.path.join(PATCHDIR, "series"), encoding="utf-8") as f:
        names = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    return [Patch(n) for n in names]


def repo_kernel_files():
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "--cached",
                          "--others", "--exclude-standard", "--"]
                         + list(KERNEL_DIRS), check=True,
                         capture_output=True, text=True).stdout.split()
    return sorted(f for f in out if not f.startswith(NOT_SERIES)
                  and os.path.exists(os.path.join(ROOT, f)))


def check(series):
    owner = {}
    for p in series:
        for f in p.adds:
            if f in owner:
                die("%s is added by both %s and %s" % (f, owner[f], p.name))
            if not os.path.isfile(os.path.join(ROOT, f)):
                die("%s: added file %s does not exist" % (p.name, f))
            owner[f] = p.name
    stray = [f for f in repo_kernel_files() if f not in owner]
    if stray:
        die("files not in any patch's Adds: line: %s" % " ".join(stray))
    return owner


def run_patch(diff, cwd, name):
    for dry in (True, False):
        args = ["patch", "-p1", "-F0", "-s", "-N", "--no-backup-if-mismatch",
                "-r", "-"]
        if dry:
            args.append("--dry-run")
        r = subprocess.run(args, cwd=cwd, input=diff, text=True,
                           capture_output=True)
        if r.returncode:
            die("%s does not apply:\n%s%s" % (name, r.stdout, r.stderr))


def apply(series, pristine, src):
    """Bring SRC to pristine + series, rewriting only changed files."""
    check(series)
    # "cp -a" of a symlink copies the link: SRC would then be the pristine
    # tree itself, and the series would be written into it.
    pristine = os.path.realpath(pristine)
    state = os.path.join(src, ".series-files")
    if not os.path.isdir(src):
        tmp = src + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["cp", "-a", pristine, tmp], check=True)
        os.rename(tmp, src)
    old = set()
    if os.path.exists(state):
        with open(state) as f:
            old = set(f.read().split())
    stage = tempfile.mkdtemp(prefix="pvmmap-series-")
    try:
        touched = set()
        for p in series:
            for f in p.changes:
                if f not in touched and not os.path.exists(
                        os.path.join(stage, f)):
                    s = os.path.join(pristine, f)
                    if os.path.exists(s):
                        os.makedirs(os.path.dirname(os.path.join(stage, f)),
                                    exist_ok=True)
                        shutil.copy2(s, os.path.join(stage, f))
                touched.add(f)
            for f in p.adds:
                d = os.path.join(stage, f)
                os.makedirs(os.path.dirname(d), exist_ok=True)
                shutil.copy2(os.path.join(ROOT, f), d)
                touched.add(f)
            if p.diff:
                run_patch(p.diff, stage, p.name)
        # Files the series no longer touches go back to pristine (or away),
        # with a new mtime: the pristine one is older than the objects
        # built from the patched file, and make would keep them.
        changed = 0
        for f in sorted(old - touched):
            s, d = os.path.join(pristine, f), os.path.join(src, f)
            if os.path.exists(s):
                if not os.path.exists(d) or not filecmp.cmp(s, d, False):
                    shutil.copyfile(s, d)
                    shutil.copymode(s, d)
                    changed += 1
            elif os.path.exists(d):
                os.remove(d)
                changed += 1
        for f in sorted(touched):
            s, d = os.path.join(stage, f), os.path.join(src, f)
            if os.path.exists(d) and filecmp.cmp(s, d, False):
                continue
            os.makedirs(os.path.dirname(d), exist_ok=True)
            shutil.copyfile(s, d)
            shutil.copymode(s, d)
            changed += 1
        with open(state, "w") as f:
            f.write("\n".join(sorted(touched)) + "\n")
        if changed:
            print("series: %d file(s) updated in %s" % (changed, src))
    finally:
        shutil.rmtree(stage)


def git(cwd, *args, **kw):
    return subprocess.run(["git", "-C", cwd] + list(args), check=True,
                          capture_output=True, text=True, **kw).stdout


def pristine_git(pristine, cache):
    """A git repository of the pristine tree, made once (about a minute)."""
    key = hashlib.sha1(os.path.realpath(pristine).encode()).hexdigest()[:10]
    repo = os.path.join(cache, "git-" + key)
    done = os.path.join(repo, ".git", "pvmmap-pristine-done")
    if os.path.exists(done):
        return repo
    shutil.rmtree(repo, ignore_errors=True)
    print("series: making a git repository of %s (once)" % pristine)
    subprocess.run(["cp", "-a", pristine, repo], check=True)
    for f in (".pristine", ".series-files"):
        if os.path.exists(os.path.join(repo, f)):
            os.remove(os.path.join(repo, f))
    git(repo, "init", "-q", "-b", "pristine")
    git(repo, "config", "user.name", "pristine")
    git(repo, "config", "user.email", "pristine@localhost")
    git(repo, "config", "core.autocrlf", "false")
    # Debian's tree has no .git; some .gitignore rules would hide files.
    git(repo, "add", "-A", "-f", ".")
    git(repo, "commit", "-q", "-m", "Linux 7.3 (pristine)")
    open(done, "w").close()
    return repo


def commit_series(series, tree, env=None, signoff=None):
    """Apply the series to the git work tree TREE, one commit per patch."""
    for p in series:
        for f in p.adds:
            d = os.path.join(tree, f)
            os.makedirs(os.path.dirname(d), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, f), d)
        if p.diff:
            run_patch(p.diff, tree, p.name)
        git(tree, "add", "-A", "-f", "--", *(p.adds + p.changes))
        msg = p.subject + "\n\n" + p.body
        if signoff and signoff not in msg:
            msg = msg.rstrip("\n") + "\n\n" + signoff + "\n"
        git(tree, "commit", "-q", "-F", "-", input=msg, env=env)


def export(series, pristine, out):
    out = os.path.abspath(out)
    check(series)
    cache = os.path.dirname(os.path.realpath(pristine))
    repo = pristine_git(pristine, cache)
    # Whoever exports signs off, as `git format-patch -s` would.
    name = git(ROOT, "config", "user.name").strip()
    email = git(ROOT, "config", "user.email").strip()
    signoff = "Signed-off-by: %s <%s>" % (name, email)
    env = dict(os.environ, GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email,
               GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email,
               GIT_AUTHOR_DATE="2026-01-01T00:00:00Z",
               GIT_COMMITTER_DATE="2026-01-01T00:00:00Z")
    git(repo, "checkout", "-q", "-f", "pristine")
    git(repo, "clean", "-q", "-fdx")
    git(repo, "checkout", "-q", "-B", "series")
    commit_series(series, repo, env, signoff)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    cover = os.path.join(PATCHDIR, "cover-letter")
    with open(cover, encoding="utf-8") as f:
        cl = f.read()
    head, _, blurb = cl.partition("\n\n")
    fields = dict((k.strip(), v.strip()) for k, _, v in
                  (l.partition(":") for l in head.split("\n")))
    subj = fields["Subject"]
    git(repo, "format-patch", "-q", "--cover-letter", "-o", out,
        "--subject-prefix=" + fields.get("Prefix", "PATCH"),
        "pristine..series", env=env)
    cl_path = os.path.join(out, "0000-cover-letter.patch")
    with open(cl_path, encoding="utf-8") as f:
        text = f.read()
    text = text.replace("*** SUBJECT HERE ***", subj)
    text = text.replace("*** BLURB HERE ***", blurb.strip())
    with open(cl_path, "w", encoding="utf-8") as f:
        f.write(text)
    # The proof: git am takes the series on the pristine tree.
    git(repo, "checkout", "-q", "-f", "pristine")
    git(repo, "checkout", "-q", "-B", "am-check")
    mails = sorted(os.path.join(out, f) for f in os.listdir(out)
                   if not f.startswith("0000-"))
    r = subprocess.run(["git", "-C", repo, "am", "-q", "--whitespace=error"]
                       + mails, capture_output=True, text=True, env=env)
    if r.returncode:
        subprocess.run(["git", "-C", repo, "am", "--abort"],
                       capture_output=True)
        die("git am refused the series:\n" + r.stdout + r.stderr)
    diff = subprocess.run(["git", "-C", repo, "diff", "--quiet", "series",
                           "am-check"])
    if diff.returncode:
        die("git am result differs from the series")
    git(repo, "checkout", "-q", "-f", "pristine")
    print("series: %d patches + cover letter in %s; git am applies them"
          % (len(series), out))


def devtree(series, pristine, tree):
    """A git worktree of the pristine tree with one commit per patch."""
    cache = os.path.dirname(os.path.realpath(pristine))
    repo = pristine_git(pristine, cache)
    tree = os.path.abspath(tree)
    if os.path.exists(tree):
        die("%s exists; remove it (git -C %s worktree remove --force %s)"
            % (tree, repo, tree))
    git(repo, "worktree", "prune")
    git(repo, "worktree", "add", "-q", "-f", "-B", "dev-" +
        hashlib.sha1(tree.encode()).hexdigest()[:8], tree, "pristine")
    commit_series(series, tree)
    print("series: %s holds the series as %d commits on 'pristine'; edit, "
          "amend or fixup, then: build/series.py refresh %s"
          % (tree, len(series), tree))


def refresh(series, tree):
    """Write a devtree's commits back as the diff parts of patches/.

    Commit i must be patch i (same subject).  Files the series adds are
    edited in the repository itself; a devtree copy that differs is only
    reported."""
    commits = git(tree, "rev-list", "--reverse", "pristine..HEAD").split()
    if len(commits) != len(series):
        die("%d commits on top of pristine, %d patches in the series"
            % (len(commits), len(series)))
    for p, c in zip(series, commits):
        subj = git(tree, "log", "-1", "--format=%s", c).strip()
        if subj != p.subject:
            die("commit %s is %r, patch %s is %r"
                % (c[:12], subj, p.name, p.subject))
        touched = git(tree, "diff", "--name-only", c + "^", c).split()
        later_adds = [f for f in touched if f not in p.adds and any(
            f in q.adds for q in series if q is not p)]
        if later_adds:
            die("%s changes files added by another patch: %s"
                % (p.name, " ".join(later_adds)))
        excludes = [":(exclude)" + f for f in p.adds]
        diff = git(tree, "diff", "--no-color", "--no-renames", c + "^", c,
                   "--", ".", *excludes)
        for f in p.adds:
            r = subprocess.run(["git", "-C", tree, "show", "%s:%s" % (c, f)],
                               capture_output=True, text=True)
            with open(os.path.join(ROOT, f), encoding="utf-8") as mine:
                if r.returncode or mine.read() != r.stdout:
                    print("series: warning: %s differs in %s; added files "
                          "are edited in the repository, not written back"
                          % (f, tree))
        path = os.path.join(PATCHDIR, p.name)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        head = text[:text.index("\n---\n") + 5]
        adds = "".join("Adds: %s\n" % f for f in p.adds)
        with open(path, "w", encoding="utf-8") as f:
            f.write(head + adds + diff)
    print("series: %d patches refreshed from %s" % (len(series), tree))


def main():
    if len(sys.argv) < 2:
        die("usage: series.py check|apply|export ...")
    series = load_series()
    cmd = sys.argv[1]
    if cmd == "check" and len(sys.argv) == 2:
        check(series)
    elif cmd == "apply" and len(sys.argv) == 4:
        apply(series, sys.argv[2], sys.argv[3])
    elif cmd == "export" and len(sys.argv) == 4:
        export(series, sys.argv[2], sys.argv[3])
    elif cmd == "devtree" and len(sys.argv) == 4:
        devtree(series, sys.argv[2], sys.argv[3])
    elif cmd == "refresh" and len(sys.argv) == 3:
        refresh(series, sys.argv[2])
    elif cmd == "files" and len(sys.argv) == 2:
        for f in sorted(set(f for p in series for f in p.adds + p.changes)):
            print(f)
    else:
        die("usage: series.py check|apply|export|devtree|refresh|files ...")


if __name__ == "__main__":
    main()
