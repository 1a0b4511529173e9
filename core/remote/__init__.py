"""Compile on SageMaker: a recipe runs unchanged as a Training job in the LMI image of its release, on an
instance of the deployment's GPU architecture.

``instances`` (training instance types: botocore's enum, architecture and GPU count), ``images`` (the LMI DLC
URI per release and region), ``job`` (the CreateTrainingJob request and its checks against botocore's model),
``wheelhouse`` (the wizard and its dependencies for the image's Python), ``logs`` (CloudWatch tailing the way
the SageMaker SDK does it), ``status`` (DescribeTrainingJob / StopTrainingJob / errors), ``policy`` (the IAM
the caller and the role need), ``submit`` (validate, stage, create, wait, check: several recipes at once),
``inside`` (what runs inside the job).
"""
