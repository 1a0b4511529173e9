"""CloudWatch Logs of training jobs, tailed the way the SageMaker SDK does it: the group
``/aws/sagemaker/TrainingJobs``, the job's streams ``<job>/algo-1-…`` found with DescribeLogStreams (prefix,
ordered by name), each read with GetLogEvents from the head, following ``nextForwardToken``; "not found"
(group or stream not created yet) is normal until the instance starts. Events of several streams and
several jobs are merged in timestamp order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

__all__ = ["LOG_GROUP", "LogLine", "JobLogs", "MergedLogs"]

LOG_GROUP = "/aws/sagemaker/TrainingJobs"


@dataclass(frozen=True)
class LogLine:
    job: str
    stream: str
    timestamp: int  # ms since the epoch
    message: str


def _not_found(exc: BaseException) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code == "ResourceNotFoundException"


class JobLogs:
    """The log of one job, read incrementally: each :meth:`poll` returns the lines written since the last."""

    def __init__(self, client, job: str, *, group: str = LOG_GROUP) -> None:
        self.client, self.job, self.group = client, job, group
        self.tokens: dict[str, Optional[str]] = {}  # stream → nextForwardToken (None: from the head)

    def streams(self) -> list[str]:
        names: list[str] = []
        kw = {"logGroupName": self.group, "logStreamNamePrefix": self.job + "/", "orderBy": "LogStreamName"}
        try:
            while True:
                page = self.client.describe_log_streams(**kw)
                names += [s["logStreamName"] for s in page.get("logStreams", [])]
                if not page.get("nextToken"):
                    break
                kw["nextToken"] = page["nextToken"]
        except Exception as exc:
            if _not_found(exc):
                return []
            raise
        return names

    def _read(self, stream: str) -> list[LogLine]:
        out: list[LogLine] = []
        token = self.tokens.get(stream)
        while True:
            kw = {"logGroupName": self.group, "logStreamName": stream, "startFromHead": True}
            if token:
                kw["nextToken"] = token
            try:
                resp = self.client.get_log_events(**kw)
            except Exception as exc:
                if _not_found(exc):
                    return out
                raise
            events = resp.get("events", [])
            out += [LogLine(self.job, stream, e["timestamp"], e["message"]) for e in events]
            new = resp.get("nextForwardToken")
            if not events or new == token:
                token = new or token
                break
            token = new
        self.tokens[stream] = token
        return out

    def poll(self) -> list[LogLine]:
        for s in self.streams():
            self.tokens.setdefault(s, None)
        lines: list[LogLine] = []
        for s in sorted(self.tokens):
            lines += self._read(s)
        return sorted(lines, key=lambda ln: (ln.timestamp, ln.stream))


class MergedLogs:
    """The logs of several jobs as one stream, in timestamp order within each poll."""

    def __init__(self, client, jobs: Iterable[str], *, group: str = LOG_GROUP) -> None:
        self.tails = [JobLogs(client, j, group=group) for j in jobs]

    def poll(self) -> list[LogLine]:
        lines: list[LogLine] = []
        for t in self.tails:
            lines += t.poll()
        return sorted(lines, key=lambda ln: (ln.timestamp, ln.job, ln.stream))
