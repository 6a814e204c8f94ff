#!/usr/bin/env bash
# Download the pinned Neo4j Graph Data Science plugin jar into docker/plugins/ and verify it.
#
#   scripts/fetch_gds.sh                 # GDS 2.13.9 for Neo4j 5.26.24 (the compose file's image)
#   GDS_VERSION=2.13.x scripts/fetch_gds.sh   # another 2.13 patch (also update the checksum)
#
# The checksum of each version lives in docker/plugins/SHA256SUMS (committed). When the pinned
# version has no entry yet, the script refuses unless you pass --record, which downloads the
# jar, prints its sha256 and appends it to SHA256SUMS so that the next fetch is verified
# (trust on first use: compare the printed value with the one on the GDS release page before
# committing it). The jar itself is git-ignored.
#
# GDS 2.13.x is the release line for Neo4j 5.26 (see the GDS compatibility table); 2.13.9 is
# built against Neo4j 5.26.24 (GDS gradle/dependencies.gradle), the image pinned in
# docker/.env.example and the version docker/neo4j-local/pom.xml resolves. Keep all three equal.
# Mirror: set GDS_URL to fetch from elsewhere (a file:// URL works for offline copies).
set -euo pipefail

GDS_VERSION="${GDS_VERSION:-2.13.9}"
JAR="neo4j-graph-data-science-${GDS_VERSION}.jar"
GDS_URL="${GDS_URL:-https://github.com/neo4j/graph-data-science/releases/download/${GDS_VERSION}/${JAR}}"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PLUGINS="${PLUGINS_DIR:-${HERE}/../docker/plugins}"
SUMS="${PLUGINS}/SHA256SUMS"
RECORD=0
[[ "${1:-}" == "--record" ]] && RECORD=1

die() { echo "fetch_gds: $*" >&2; exit 1; }
command -v curl >/dev/null || die "curl is required (apt-get install curl / brew install curl)"
if command -v sha256sum >/dev/null; then SHA="sha256sum"; else SHA="shasum -a 256"; fi

mkdir -p "${PLUGINS}"
expected="$(awk -v f="${JAR}" '$2 == f {print $1}' "${SUMS}" 2>/dev/null || true)"
if [[ -z "${expected}" && "${RECORD}" -ne 1 ]]; then
  die "no checksum for ${JAR} in ${SUMS}; rerun with --record to download it and record its sha256"
fi

tmp="$(mktemp "${PLUGINS}/.${JAR}.XXXXXX")"
trap 'rm -f "${tmp}"' EXIT
echo "fetch_gds: downloading ${GDS_URL}"
curl --fail --location --silent --show-error --retry 3 -o "${tmp}" "${GDS_URL}"
actual="$(${SHA} "${tmp}" | awk '{print $1}')"

if [[ -n "${expected}" ]]; then
  [[ "${actual}" == "${expected}" ]] || die "checksum mismatch for ${JAR}: expected ${expected}, got ${actual}; delete nothing, re-download, and check GDS_URL"
  echo "fetch_gds: sha256 verified (${actual})"
else
  echo "${actual}  ${JAR}" >> "${SUMS}"
  echo "fetch_gds: recorded sha256 ${actual} in ${SUMS}; compare it with the release page, then commit SHA256SUMS"
fi

# Exactly one GDS jar in plugins/: Neo4j refuses to start with two versions side by side.
find "${PLUGINS}" -maxdepth 1 -name 'neo4j-graph-data-science-*.jar' ! -name "${JAR}" -print -delete
mv "${tmp}" "${PLUGINS}/${JAR}"
trap - EXIT
chmod 0644 "${PLUGINS}/${JAR}"
echo "fetch_gds: ${PLUGINS}/${JAR} ready; start Neo4j with: docker compose -f docker/compose.yml up -d"
