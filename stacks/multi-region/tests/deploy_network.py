"""What the local cloud holds after a deploy of the multi-region stack: per region, the baseline
stack's outputs, the databases' placement and the parameter groups. Read with boto3, independently
of Tandem's own read code. Usage: MOTO_ENDPOINT=http://127.0.0.1:PORT python3 deploy_network.py ENV"""
import json
import os
import sys

import boto3

ENV = sys.argv[1]
KW = dict(
    endpoint_url=os.environ["MOTO_ENDPOINT"],
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
)


def region_facts(region):
    cfn = boto3.client("cloudformation", region_name=region, **KW)
    rds = boto3.client("rds", region_name=region, **KW)
    ec2 = boto3.client("ec2", region_name=region, **KW)
    stacks = [
        s
        for s in cfn.describe_stacks()["Stacks"]
        if f"tandem-{ENV}-baseline" in s["StackName"] and s["StackStatus"] != "DELETE_COMPLETE"
    ]
    outputs = {}
    if stacks:
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    dbs = {}
    for d in rds.describe_db_instances()["DBInstances"]:
        subnet = d.get("DBSubnetGroup") or {}
        dbs[d["DBInstanceIdentifier"]] = {
            "subnet_group": subnet.get("DBSubnetGroupName"),
            "vpc": subnet.get("VpcId"),
            "security_groups": [g["VpcSecurityGroupId"] for g in d.get("VpcSecurityGroups", [])],
            "parameter_groups": [g["DBParameterGroupName"] for g in d.get("DBParameterGroups", [])],
            "engine_version": d.get("EngineVersion"),
            "deletion_protection": d.get("DeletionProtection"),
        }
    groups = {}
    for g in rds.describe_db_parameter_groups()["DBParameterGroups"]:
        name = g["DBParameterGroupName"]
        if name.startswith("default."):
            continue
        params = rds.describe_db_parameters(DBParameterGroupName=name, Source="user")["Parameters"]
        groups[name] = {
            "family": g["DBParameterGroupFamily"],
            "parameters": {p["ParameterName"]: p.get("ParameterValue") for p in params},
        }
    db_rules = []
    if "DbSecurityGroupId" in outputs:
        sg = ec2.describe_security_groups(GroupIds=[outputs["DbSecurityGroupId"]])["SecurityGroups"][0]
        for p in sg["IpPermissions"]:
            sources = [g["GroupId"] for g in p.get("UserIdGroupPairs", [])]
            described = ec2.describe_security_groups(GroupIds=sources)["SecurityGroups"] if sources else []
            db_rules.append(
                {
                    "from": p.get("FromPort"),
                    "to": p.get("ToPort"),
                    "groups": [
                        {"vpc": g["VpcId"], "description": g["Description"]} for g in described
                    ],
                    "cidrs": [r["CidrIp"] for r in p.get("IpRanges", [])],
                }
            )
    return {"outputs": outputs, "dbs": dbs, "parameter_groups": groups, "db_rules": db_rules}


print(json.dumps({r: region_facts(r) for r in ["us-east-1", "us-west-2"]}))
