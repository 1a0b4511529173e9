"""The IAM a remote compile needs: the caller's (submit, watch, stop, stage the inputs, check the result) and
the job role's (read the inputs, publish to the destination, write logs, pull the DLC image, read the HF token
secret), plus the role's trust policy. Printed by ``lmi-wizard remote policy``."""

from __future__ import annotations

from typing import Iterable, Optional

__all__ = ["policies"]


def _buckets(buckets: Iterable[str]) -> tuple[list[str], list[str]]:
    names = sorted({b for b in buckets if b}) or ["BUCKET"]
    return [f"arn:aws:s3:::{b}" for b in names], [f"arn:aws:s3:::{b}/*" for b in names]


def policies(*, buckets: Iterable[str] = (), secret: Optional[str] = None, role_arn: Optional[str] = None,
             region: str = "*", account: str = "*") -> dict:
    """``{"caller": policy, "role": policy, "trust": policy}`` (IAM JSON documents)."""
    bucket_arns, object_arns = _buckets(buckets)
    jobs = f"arn:aws:sagemaker:{region}:{account}:training-job/lmiw-*"
    logs = f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/TrainingJobs*"
    caller = {"Version": "2012-10-17", "Statement": [
        {"Sid": "TrainingJobs", "Effect": "Allow",
         "Action": ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags"], "Resource": jobs},
        {"Sid": "ListJobs", "Effect": "Allow", "Action": ["sagemaker:ListTrainingJobs"], "Resource": "*"},
        {"Sid": "PassRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": role_arn or "ROLE_ARN",
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:DescribeLogStreams", "logs:GetLogEvents"],
         "Resource": [logs, logs + ":log-stream:*"]},
        {"Sid": "StageAndCheck", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
         "Resource": bucket_arns},
        # (DeleteObject: a wheelhouse of an older lmi-wizard is replaced under the staging prefix)
        {"Sid": "StageAndCheckObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject",
                                                                       "s3:DeleteObject"], "Resource": object_arns},
    ]}
    role = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Image", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "ImageLayers", "Effect": "Allow",
         "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
         "Resource": "arn:aws:ecr:*:*:repository/djl-inference"},
        {"Sid": "Logs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
         "Resource": [logs, logs + ":log-stream:*"]},
        {"Sid": "Metrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*"},
        {"Sid": "Buckets", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation",
                                                          "s3:ListBucketMultipartUploads"], "Resource": bucket_arns},
        {"Sid": "Objects", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
         "Resource": object_arns},
    ]}
    if secret:
        arn = secret if secret.startswith("arn:") else f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}-*"
        role["Statement"].append({"Sid": "HfToken", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                                  "Resource": arn})
    else:
        role["Statement"].append({"Sid": "HfToken", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                                  "Resource": f"arn:aws:secretsmanager:{region}:{account}:secret:SECRET_NAME-*"})
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    return {"caller": caller, "role": role, "trust": trust}
