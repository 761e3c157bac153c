"""Checks the stack set's execution role against the regional template, for tests/lint_template.sh.

Every permission that CloudFormation's handler of a resource type of the regional template needs
(the registry schemas cfn-lint ships: `handlers.{create,read,update,delete}.permissions`) must be
allowed by the execution role's policy (stackset-roles template), except the writes listed below
for features the template does not use. And the role must allow nothing beyond the template's
services. Resources are not compared: the policy scopes them (program.rs); this checks that no
action CloudFormation needs is missing, so that a resource type added to the template without its
permissions fails here rather than in a real deployment.

Usage: python lint_execution_role.py REGIONAL_TEMPLATE ROLES_TEMPLATE
Exit status: 0 covered; 1 a permission is missing or an action is outside the template's services.
"""
import fnmatch
import json
import os
import sys

import cfnlint

# Writes of features the template does not use, with why.
NOT_GRANTED = {
    "ec2:AttachVpnGateway": "no VPN gateway (VPCGatewayAttachment attaches an internet gateway)",
    "ec2:DetachVpnGateway": "no VPN gateway",
    "ec2:CreateVpcEncryptionControl": "no VPC encryption control",
    "ec2:ModifyVpcTenancy": "default tenancy",
    "elasticloadbalancing:ModifyCapacityReservation": "no load balancer capacity reservation",
    "elasticloadbalancing:ModifyIpPools": "no IPAM pool",
    "iam:AttachRolePolicy": "the template's roles have inline policies only; no managed policy may be attached to a role the execution role passes",
    "iam:PutRolePermissionsBoundary": "no permissions boundary",
    "iam:DeleteRolePermissionsBoundary": "no permissions boundary",
    "logs:CreateLogDelivery": "no log delivery",
    "logs:DeleteDataProtectionPolicy": "no data-protection policy",
    "logs:PutDataProtectionPolicy": "no data-protection policy",
    "logs:DeleteIndexPolicy": "no index policy",
    "logs:PutIndexPolicy": "no index policy",
    "logs:DeleteResourcePolicy": "no log group resource policy",
    "logs:PutResourcePolicy": "no log group resource policy",
    "logs:PutBearerTokenAuthentication": "no bearer token authentication",
    "logs:PutLogGroupDeletionProtection": "no deletion protection setting",
}
# Services whose writes serve only features the template does not use.
NOT_GRANTED_SERVICES = {
    "cloudwatch": "no alarm of the Auto Scaling group (alarms are made through the API)",
    "cognito-idp": "no Cognito authentication on a listener",
    "firehose": "no log delivery to Firehose",
    "s3tables": "no S3 metadata table",
    "vpc-lattice": "no VPC Lattice target of the Auto Scaling group",
    "vpce": "no cross-region VPC endpoint",
}
# The template's own services, and CloudFormation for the stack set's stacks.
SERVICES = {
    "autoscaling", "cloudformation", "ec2", "elasticloadbalancing", "iam", "kms", "logs", "rds",
    "s3", "ssm",
}


def schema(kind, base, providers):
    with open(os.path.join(base, "resources", f"{providers[kind]}.json")) as f:
        return json.load(f)


def main(regional_path, roles_path):
    base = os.path.join(os.path.dirname(cfnlint.__file__), "data", "schemas")
    with open(os.path.join(base, "providers", "us-east-1.json")) as f:
        providers = json.load(f)
    with open(regional_path) as f:
        regional = json.load(f)
    with open(roles_path) as f:
        roles = json.load(f)
    # IAM's actions, as cfn-lint knows them: a handler permission that is no IAM action (a
    # service or an action IAM does not have, a typo) cannot be granted, and is reported only.
    with open(os.path.join(os.path.dirname(cfnlint.__file__), "data", "AdditionalSpecs", "Policies.json")) as f:
        iam_services = {k.lower(): v for k, v in json.load(f).items()}

    def iam_action(permission):
        service, _, action = permission.lower().partition(":")
        actions = iam_services.get(service, {}).get("Actions", {})
        return any(fnmatch.fnmatchcase(a, action) for a in actions)

    granted = []
    for policy in roles["Resources"]["ExecutionRole"]["Properties"].get("Policies", []):
        for st in policy["PolicyDocument"]["Statement"]:
            if st["Effect"] != "Allow":
                continue
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            granted += [a.lower() for a in actions]

    def allowed(permission):
        p = permission.lower()
        # A granted pattern covers it, or it is itself a pattern some granted action falls under
        # (a handler's `ssm:Get*` is met by `ssm:GetParameters`).
        return any(fnmatch.fnmatchcase(p, g) or fnmatch.fnmatchcase(g, p) for g in granted)

    missing, unknown = [], set()
    for kind in sorted({r["Type"] for r in regional["Resources"].values()}):
        handlers = schema(kind, base, providers).get("handlers", {})
        for handler in ("create", "read", "update", "delete"):
            for permission in handlers.get(handler, {}).get("permissions", []):
                service = permission.split(":")[0]
                write = handler != "read"
                if write and (permission in NOT_GRANTED or service in NOT_GRANTED_SERVICES):
                    continue
                if allowed(permission):
                    continue
                if iam_action(permission):
                    missing.append(f"{kind} {handler}: {permission}")
                else:
                    unknown.add(permission)
    outside = sorted({a for a in granted if a.split(":")[0] not in SERVICES})

    for m in sorted(set(missing)):
        print(f"  MISSING {m}")
    for a in outside:
        print(f"  OUTSIDE the template's services: {a}")
    for u in sorted(unknown):
        print(f"  not an IAM action (in a handler's list, not granted): {u}")
    print(
        f"lint_template: execution role: {len(granted)} actions allowed, "
        f"{len(set(missing))} handler permission(s) missing, {len(outside)} outside"
    )
    return 1 if missing or outside else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
