"""STAND-IN for the parts of SageMaker's training-job API that moto does not emulate, as a hook on the moto
test server (``tests/s3server.py``'s CountingMotoServer; everything else goes to moto itself).

What moto lacks, and what this stand-in does instead (nothing more):
- moto completes a training job at once and drops ``Environment``: ``DescribeTrainingJob`` of a job created
  through the server is answered here from the request moto accepted, with a state machine the TEST drives
  (``InProgress`` → ``Completed`` / ``Failed`` with a FailureReason / ``Stopping`` → ``Stopped``).
- moto has no ``StopTrainingJob``: answered here (InProgress → Stopping; the next Describe says Stopped).
- moto has no service quotas: ``quota(instance_type, 0)`` makes ``CreateTrainingJob`` for it answer
  ``ResourceLimitExceeded`` the way SageMaker words it.
``CreateTrainingJob`` itself (its validation and the job record), ``ListTrainingJobs``, S3, CloudWatch Logs
and Secrets Manager are moto's own.
"""

from __future__ import annotations

import io
import json
import threading
import time
from typing import Optional

TARGET_PREFIX = "SageMaker."


def _json(status: str, doc: dict) -> tuple:
    return status, [("Content-Type", "application/x-amz-json-1.1")], json.dumps(doc).encode()


class SageMakerJobStandIn:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: dict[str, dict] = {}  # name → {"request", "status", "secondary", "failure", "transitions"}
        self.quotas: dict[str, int] = {}
        self.creates: list[dict] = []  # every CreateTrainingJob body received (accepted or not)
        self.created = threading.Condition(self.lock)

    # ---- driven by the test --------------------------------------------------------------------
    def quota(self, instance_type: str, n: int) -> None:
        self.quotas[instance_type] = n

    def set(self, name: str, status: str, failure: Optional[str] = None, secondary: Optional[str] = None) -> None:
        with self.lock:
            job = self.jobs[name]
            job["status"] = status
            job["failure"] = failure
            job["secondary"] = secondary or {"Completed": "Completed", "Failed": "Failed",
                                             "Stopped": "Stopped", "InProgress": "Training"}.get(status, status)
            job["transitions"].append({"Status": job["secondary"], "StartTime": time.time(),
                                       "StatusMessage": failure or ""})

    def wait_created(self, n: int, timeout: float = 30.0) -> list[str]:
        with self.created:
            self.created.wait_for(lambda: len(self.jobs) >= n, timeout=timeout)
            return list(self.jobs)

    # ---- the hook ------------------------------------------------------------------------------
    def __call__(self, environ, req):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(TARGET_PREFIX):
            return None
        op = target[len(TARGET_PREFIX):]
        if op not in ("CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob"):
            return None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b"{}"
        environ["wsgi.input"] = io.BytesIO(raw)  # moto reads it again when the call passes through
        body = json.loads(raw or b"{}")
        name = body.get("TrainingJobName", "")
        if op == "CreateTrainingJob":
            itype = body.get("ResourceConfig", {}).get("InstanceType")
            with self.lock:
                self.creates.append(body)
                if self.quotas.get(itype, 1) < 1:
                    return _json("400 Bad Request", {
                        "__type": "ResourceLimitExceeded",
                        "message": f"The account-level service limit '{itype} for training job usage' is "
                                   f"{self.quotas[itype]} Instances, with current utilization of 0 Instances and a "
                                   "request delta of 1 Instances. Please use AWS Service Quotas to request an "
                                   "increase for this quota."})
            return None  # moto creates it; tracked in after()
        with self.lock:
            job = self.jobs.get(name)
            if job is None:
                return None  # moto answers (not found, or moto's own job)
            if op == "StopTrainingJob":
                if job["status"] == "InProgress":
                    job["status"], job["secondary"] = "Stopping", "Stopping"
                return _json("200 OK", {})
            if job["status"] == "Stopping" and job.get("seen_stopping"):
                job["status"], job["secondary"] = "Stopped", "Stopped"
            elif job["status"] == "Stopping":
                job["seen_stopping"] = True
            r = job["request"]
            doc = {"TrainingJobName": name, "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:"
                   f"training-job/{name}", "TrainingJobStatus": job["status"], "SecondaryStatus": job["secondary"],
                   "AlgorithmSpecification": r["AlgorithmSpecification"], "RoleArn": r["RoleArn"],
                   "InputDataConfig": r.get("InputDataConfig", []), "OutputDataConfig": r["OutputDataConfig"],
                   "ResourceConfig": r["ResourceConfig"], "StoppingCondition": r["StoppingCondition"],
                   "Environment": r.get("Environment", {}), "CreationTime": job["created"],
                   "SecondaryStatusTransitions": job["transitions"]}
            if job["failure"]:
                doc["FailureReason"] = job["failure"]
            return _json("200 OK", doc)

    def after(self, req) -> None:
        """After moto answered a request the hook let through: start tracking jobs moto created."""
        for body in list(self.creates):
            name = body.get("TrainingJobName")
            with self.lock:
                if name in self.jobs or self.quotas.get(body.get("ResourceConfig", {}).get("InstanceType"), 1) < 1:
                    continue
                self.jobs[name] = {"request": body, "status": "InProgress", "secondary": "Starting", "failure": None,
                                   "created": time.time(), "transitions": [{"Status": "Starting",
                                                                            "StartTime": time.time()}]}
                self.created.notify_all()
