# Sourced by scripts/sanity and scripts/integration: ansible-test must run from a real (not symlinked)
# directory named .../ansible_collections/keyless/aws, and it looks only at git-tracked plus untracked
# non-ignored files. copy_collection DEST copies exactly those files of the checkout in the current
# directory (uncommitted work included, ignored files like .venv/ excluded, tracked files deleted in the
# worktree skipped) to DEST and makes them tracked there. In CI the clone holds only committed files, so
# CI and a local run see the same set of files once everything is committed.
copy_collection() {
  local dest=$1
  mkdir -p "$dest"
  git ls-files -z --cached --others --exclude-standard --deduplicate \
    | while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -xf - -C "$dest"
  (cd "$dest" && git init -q && git add -A)
}
