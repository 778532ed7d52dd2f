"""The Apache Kafka jars for a local broker: fetched once from Maven Central, then cached.

The version is pinned in one place, `data/kafka-pom.xml` (a Maven descriptor shipped in the
package); `mvn dependency:copy-dependencies` resolves it with its dependencies into
`<cache>/kafka-<version>/libs`. Maven's own repository (~/.m2) keeps the downloads, so a
second cache directory fills offline in seconds. Nothing here runs at import time.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ElementTree
from functools import cache
from importlib import resources
from pathlib import Path

from service.broker.errors import BrokerStartError

_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
_COMPLETE_MARK = ".complete"
MAVEN_TIMEOUT_S = 600.0


class KafkaUnavailable(BrokerStartError):
    """Java or Maven is missing, or the jars could not be fetched; the message says what to do."""


def pom_path() -> Path:
    """The packaged Maven descriptor that pins the Kafka version."""
    return Path(str(resources.files("service.broker") / "data" / "kafka-pom.xml"))


@cache
def kafka_version() -> str:
    """The pinned Kafka version, read from the descriptor (its one home)."""
    root = ElementTree.parse(pom_path()).getroot()
    for dependency in root.iterfind("m:dependencies/m:dependency", _POM_NS):
        if dependency.findtext("m:artifactId", namespaces=_POM_NS) == "kafka_2.13":
            version = dependency.findtext("m:version", namespaces=_POM_NS)
            if version:
                return version.strip()
    raise KafkaUnavailable(f"{pom_path()} names no org.apache.kafka:kafka_2.13 version")


def missing_prerequisite() -> str | None:
    """Why a local Kafka cannot run here (Java or Maven absent), or None if it can."""
    if shutil.which("java") is None:
        return (
            "Java is not installed: a local Apache Kafka needs a Java 17+ runtime "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless)"
        )
    if shutil.which("mvn") is None:
        return (
            "Maven is not installed: closeknit fetches the Kafka jars with it "
            "(Debian/Ubuntu: apt-get install maven)"
        )
    return None


def cached_libs(cache_root: Path) -> Path | None:
    """The libs directory if a previous run filled it completely, else None."""
    libs = cache_root / f"kafka-{kafka_version()}" / "libs"
    return libs if (libs / _COMPLETE_MARK).exists() else None


def ensure_kafka_jars(cache_root: Path) -> Path:
    """Return `<cache_root>/kafka-<version>/libs`, fetching the jars with Maven if needed.

    The jars land in a temporary directory first and are moved into place whole, so an
    interrupted download never leaves a half-filled cache that looks complete.
    """
    ready = cached_libs(cache_root)
    if ready is not None:
        return ready
    reason = missing_prerequisite()
    if reason is not None:
        raise KafkaUnavailable(f"{reason}; or set CLOSEKNIT_BROKER to an existing Kafka")
    target = cache_root / f"kafka-{kafka_version()}" / "libs"
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=target.parent))
    try:
        _copy_dependencies(staging)
        (staging / _COMPLETE_MARK).write_text(kafka_version() + "\n")
        if target.exists():  # a concurrent run finished first, or an incomplete old copy
            shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _copy_dependencies(output: Path) -> None:
    command = [
        "mvn",
        "--batch-mode",
        "--quiet",
        "--file",
        str(pom_path()),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={output}",
        "-DincludeScope=runtime",
    ]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=MAVEN_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise KafkaUnavailable(
            f"Maven did not fetch the Kafka {kafka_version()} jars within "
            f"{MAVEN_TIMEOUT_S:.0f} s; check that Maven Central is reachable"
        ) from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-12:])
        raise KafkaUnavailable(
            f"`{' '.join(command)}` failed (exit {done.returncode}); check that Maven "
            f"Central is reachable:\n{tail}"
        )
    if not any(output.glob("kafka_2.13-*.jar")):
        raise KafkaUnavailable(f"Maven finished but left no kafka_2.13 jar in {output}")
