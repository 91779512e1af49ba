#!/usr/bin/env bash
# Resolve Apache Kafka's broker jars (KRaft, single node) from Maven Central into a cache dir and
# print that dir. Idempotent: a complete cache is reused without running Maven.
#
#   VAD_KAFKA_VERSION   Kafka version (default 4.3.1)
#   VAD_KAFKA_LIB       where the jars go (default ~/.cache/vad/kafka-$VERSION/lib)
#
# Needs java (17+) and mvn. Nothing is downloaded except through Maven.
# Stdout is exactly one line, the lib dir; progress goes to stderr.
set -euo pipefail

VERSION="${VAD_KAFKA_VERSION:-4.3.1}"
LIB="${VAD_KAFKA_LIB:-${XDG_CACHE_HOME:-$HOME/.cache}/vad/kafka-${VERSION}/lib}"
STAMP="$LIB/.complete"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$VERSION" ]; then
  echo "$LIB"
  exit 0
fi

for tool in java mvn; do
  if ! command -v "$tool" >/dev/null; then
    echo "kafka-setup: '$tool' not found (Debian: apt-get install openjdk-17-jre-headless maven)" >&2
    exit 1
  fi
done

java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
if [ "${java_major%%.*}" -lt 17 ] 2>/dev/null; then
  echo "kafka-setup: Kafka ${VERSION} needs Java 17+, found ${java_major}" >&2
  exit 1
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cat >"$WORK/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.vad</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${VERSION}</version>
    </dependency>
    <!-- log4j2 binding for the slf4j 1.7 API that kafka-clients pulls in, so the broker logs to a file -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>2.24.3</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>2.24.3</version>
    </dependency>
  </dependencies>
</project>
EOF

echo "kafka-setup: resolving org.apache.kafka:kafka_2.13:${VERSION} and dependencies ..." >&2
mkdir -p "$LIB"
rm -f "$LIB"/*.jar
if ! mvn -B -q -Dstyle.color=never -f "$WORK/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIB" >"$WORK/mvn.log" 2>&1; then
  tail -n 40 "$WORK/mvn.log" >&2
  reason="$(grep -m1 -o 'Could not resolve dependencies.*\|Failed to execute goal.*' "$WORK/mvn.log" | cut -c1-300)"
  echo "kafka-setup: Maven could not resolve Kafka ${VERSION}: ${reason:-see above}" >&2
  exit 1
fi
if ! ls "$LIB"/kafka_2.13-"$VERSION".jar >/dev/null 2>&1; then
  echo "kafka-setup: kafka_2.13-${VERSION}.jar missing after resolution" >&2
  exit 1
fi
echo "$VERSION" >"$STAMP"
echo "kafka-setup: $(ls "$LIB"/*.jar | wc -l) jars in $LIB" >&2
echo "$LIB"
