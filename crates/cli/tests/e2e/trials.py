"""The crash and fault trials' audit: reads the local cloud with boto3 (never through Tandem) and
compares what exists with what the state file says.

  trials.py audit ENV STATE_FILE     JSON {"resources", "duplicates", "orphans", "state"}

A resource belongs to ENV when its name starts with `tandem-ENV-` (`tandem/ENV/` for secrets,
`StackSet-tandem-ENV-` for a stack set's stacks) or its `tandem:env` tag says ENV. It is
- a duplicate when another resource of the same kind and region has the same identity: the same
  `tandem:addr` tag, or the same name (buckets, hosted zones) or target (health checks), or a
  stack set's second stack in one region;
- an orphan when the state does not hold it: no resource of the state has its identifier (name,
  id or ARN) as its id, or its `tandem:addr` names an address the state lacks or holds under another
  id.
"""
import json
import os
import sys

import boto3
from botocore.exceptions import ClientError

ENDPOINT = os.environ["MOTO_ENDPOINT"]
REGIONS = ("us-east-1", "us-west-2")


def client(service, region="us-east-1"):
    return boto3.client(service, region_name=region, endpoint_url=ENDPOINT)


def tag_map(tags):
    return {t["Key"]: t["Value"] for t in tags or []}


def stack_set_of(stack_name):
    """The stack set whose instance made the stack `stack_name`, or None: moto names the stack
    `StackSet:SET`, AWS `StackSet-SET-UUID`."""
    if stack_name.startswith("StackSet:"):
        return stack_name[len("StackSet:"):]
    if stack_name.startswith("StackSet-"):
        return stack_name[len("StackSet-"):].rsplit("-", 5)[0]
    return None


class Inventory:
    def __init__(self, env):
        self.env = env
        self.prefix = f"tandem-{env}-"
        self.items = []

    def mine(self, name, tags=None):
        return name.startswith(self.prefix) or (tags or {}).get("tandem:env") == self.env

    def add(self, kind, region, name, ids, tags, identity=None, owned_by=None):
        """`identity`: what two copies of one resource share (default: its address tag, else its
        name). `owned_by`: a state id that owns it (not itself in the state)."""
        addr = tags.get("tandem:addr")
        self.items.append({
            "kind": kind, "region": region, "name": name, "ids": [i for i in ids if i],
            "addr": addr, "identity": identity or addr or name, "owned_by": owned_by,
        })

    def read(self):
        self.buckets()
        self.zones_checks_records()
        for region in REGIONS:
            self.databases(region)
            self.stacks(region)
            self.alarms(region)
            self.groups(region)
            self.secrets(region)
        self.stack_sets()
        return self.items

    def buckets(self):
        s3 = client("s3")
        for b in s3.list_buckets()["Buckets"]:
            name = b["Name"]
            try:
                tags = tag_map(s3.get_bucket_tagging(Bucket=name)["TagSet"])
            except ClientError:
                tags = {}
            if self.mine(name, tags):
                region = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
                self.add("s3:Bucket", region, name, [name], tags, identity=name)

    def zones_checks_records(self):
        r53 = client("route53")
        for z in r53.list_hosted_zones()["HostedZones"]:
            short = z["Id"].split("/")[-1]
            tags = tag_map(r53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=short)["ResourceTagSet"]["Tags"])
            if z.get("Config", {}).get("Comment") != f"tandem {self.env}" and tags.get("tandem:env") != self.env:
                continue
            self.add("route53:HostedZone", "global", z["Name"], [z["Id"], short], tags, identity=z["Name"])
            for r in r53.list_resource_record_sets(HostedZoneId=z["Id"])["ResourceRecordSets"]:
                if r["Type"] in ("NS", "SOA"):
                    continue
                ident = f'{r["Name"]} {r["Type"]} {r.get("SetIdentifier", "")}'
                self.add("route53:Record", "global", ident, [], {}, identity=ident, owned_by=short)
        for c in r53.list_health_checks()["HealthChecks"]:
            tags = tag_map(r53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=c["Id"])["ResourceTagSet"]["Tags"])
            cfg = c["HealthCheckConfig"]
            target = cfg.get("FullyQualifiedDomainName", "") or cfg.get("IPAddress", "")
            if not (tags.get("tandem:env") == self.env or target.startswith(self.prefix) or f"-{self.env}-" in target):
                continue
            target = f'{cfg.get("Type")} {target}:{cfg.get("Port")}{cfg.get("ResourcePath", "")}'
            self.add("route53:HealthCheck", "global", target, [c["Id"]], tags, identity=target)

    def databases(self, region):
        rds = client("rds", region)
        for d in rds.describe_db_instances()["DBInstances"]:
            tags = tag_map(d.get("TagList"))
            if self.mine(d["DBInstanceIdentifier"], tags):
                self.add("rds:DBInstance", region, d["DBInstanceIdentifier"], [d["DBInstanceIdentifier"], d["DBInstanceArn"]], tags,
                         identity=d["DBInstanceIdentifier"])
        for g in rds.describe_db_parameter_groups()["DBParameterGroups"]:
            name = g["DBParameterGroupName"]
            if not name.startswith(self.prefix):
                continue
            tags = tag_map(rds.list_tags_for_resource(ResourceName=g["DBParameterGroupArn"])["TagList"])
            self.add("rds:DBParameterGroup", region, name, [name, g["DBParameterGroupArn"]], tags, identity=name)

    def stacks(self, region):
        cfn = client("cloudformation", region)
        for s in cfn.list_stacks()["StackSummaries"]:
            if s["StackStatus"] == "DELETE_COMPLETE":
                continue
            name = s["StackName"]
            stack_set = stack_set_of(name)
            if stack_set is not None and stack_set.startswith(self.prefix):
                # A stack set's stack in this region: owned by the stack set's instance here.
                self.add("cloudformation:Stack", region, name, [], {}, identity=f"stack set {stack_set}",
                         owned_by=f"{stack_set}/*/{region}")
            elif name.startswith(self.prefix):
                tags = tag_map(cfn.describe_stacks(StackName=name)["Stacks"][0].get("Tags"))
                self.add("cloudformation:Stack", region, name, [name, s["StackId"]], tags, identity=name)

    def stack_sets(self):
        seen = set()
        for region in REGIONS:
            cfn = client("cloudformation", region)
            for s in cfn.list_stack_sets(Status="ACTIVE")["Summaries"]:
                name = s["StackSetName"]
                if not name.startswith(self.prefix) or name in seen:
                    continue
                try:
                    detail = cfn.describe_stack_set(StackSetName=name)["StackSet"]
                except ClientError:
                    continue  # listed in every region, held by its administration region
                seen.add(name)
                self.add("cloudformation:StackSet", region, name, [name, s.get("StackSetId")], tag_map(detail.get("Tags")),
                         identity=name)
                for i in cfn.list_stack_instances(StackSetName=name)["Summaries"]:
                    ident = f'{name}/{i["Account"]}/{i["Region"]}'
                    self.add("cloudformation:StackInstance", i["Region"], ident, [ident], {}, identity=ident)

    def alarms(self, region):
        cw = client("cloudwatch", region)
        for a in cw.describe_alarms()["MetricAlarms"]:
            tags = tag_map(cw.list_tags_for_resource(ResourceARN=a["AlarmArn"])["Tags"])
            if self.mine(a["AlarmName"], tags):
                self.add("cloudwatch:Alarm", region, a["AlarmName"], [a["AlarmName"], a["AlarmArn"]], tags, identity=a["AlarmName"])

    def groups(self, region):
        """The Auto Scaling groups, load balancers and VPCs the stack set's stack makes in
        `region`: one of each per region (the group is in the state, as its capacity)."""
        asg = client("autoscaling", region)
        for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]:
            name = g["AutoScalingGroupName"]
            tags = tag_map(g.get("Tags"))
            stack = tags.get("aws:cloudformation:stack-name") or name.split("-AutoScalingGroup-")[0]
            stack_set = stack_set_of(stack) or ""
            if self.mine(name, tags) or stack_set.startswith(self.prefix):
                self.add("autoscaling:Group", region, name, [name], {}, identity=f"group of {stack_set or name}")
        elb = client("elbv2", region)
        for lb in elb.describe_load_balancers()["LoadBalancers"]:
            if not lb["LoadBalancerName"].startswith(self.prefix):
                continue
            tags = tag_map(elb.describe_tags(ResourceArns=[lb["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"])
            # moto does not tag a stack's load balancer with its stack: any stack instance of ENV.
            stack_set = stack_set_of(tags.get("aws:cloudformation:stack-name", "")) or self.prefix
            self.add("elbv2:LoadBalancer", region, lb["LoadBalancerName"], [lb["LoadBalancerArn"]], {},
                     identity=lb["LoadBalancerName"], owned_by=f"{stack_set}/*/{region}")
        for v in client("ec2", region).describe_vpcs()["Vpcs"]:
            tags = tag_map(v.get("Tags"))
            if tags.get("tandem:env") != self.env:
                continue
            stack_set = stack_set_of(tags.get("aws:cloudformation:stack-name", "")) or self.prefix
            self.add("ec2:Vpc", region, tags.get("Name", v["VpcId"]), [v["VpcId"]], {},
                     identity=tags.get("Name", v["VpcId"]), owned_by=f"{stack_set}/*/{region}")

    def secrets(self, region):
        sm = client("secretsmanager", region)
        for s in sm.list_secrets()["SecretList"]:
            tags = tag_map(s.get("Tags"))
            if not (s["Name"].startswith(f"tandem/{self.env}/") or tags.get("tandem:env") == self.env):
                continue
            primary = s.get("PrimaryRegion") or region
            if primary != region:
                # A replica: owned by its primary secret.
                self.add("secretsmanager:SecretReplica", region, s["Name"], [], {}, identity=s["Name"],
                         owned_by=s["ARN"].replace(f":{region}:", f":{primary}:"))
            else:
                self.add("secretsmanager:Secret", region, s["Name"], [s["ARN"], s["Name"]], tags, identity=s["Name"])


def audit(env, state_path):
    out = {"state": None, "resources": [], "duplicates": [], "orphans": []}
    state_ids = {}
    try:
        with open(state_path) as f:
            state = json.load(f)
        state_ids = {r["addr"]: r["id"] for r in state["resources"]}
        out["state"] = {"serial": state["serial"], "resources": len(state_ids)}
    except FileNotFoundError:
        out["state"] = {"serial": None, "resources": 0}
    except (ValueError, KeyError, TypeError) as e:
        out["state_error"] = f"{state_path}: {e}"
    ids = set(state_ids.values())
    items = Inventory(env).read()
    out["resources"] = items
    seen = {}
    for it in items:
        key = (it["kind"], it["region"], it["identity"])
        seen.setdefault(key, []).append(it)
    for (kind, region, identity), copies in sorted(seen.items()):
        if len(copies) > 1:
            out["duplicates"].append(f"{kind} {identity} in {region}: {len(copies)} copies "
                                     f"({', '.join(c['name'] + ' ' + '/'.join(c['ids']) for c in copies)})")

    def held(id_):
        return id_ in ids or any(i.endswith("/" + id_) or i.endswith(id_ + "/") for i in ids)

    def owner_held(owner):
        if "/*/" in owner:
            stack_set, region = owner.split("/*/")
            # A stack instance's id: SET/ACCOUNT/REGION (SET may be a prefix here).
            return any(i.startswith(stack_set) and i.endswith("/" + region) and i.count("/") == 2 for i in ids)
        return held(owner) or any(owner in i for i in ids)

    for it in items:
        what = f'{it["kind"]} {it["name"]} in {it["region"]}'
        if it["owned_by"] is not None:
            if not owner_held(it["owned_by"]):
                out["orphans"].append(f"{what}: its owner {it['owned_by']} is in no state")
            continue
        if it["addr"] is not None:
            if it["addr"] not in state_ids:
                out["orphans"].append(f"{what}: tagged {it['addr']}, which the state does not hold")
            elif state_ids[it["addr"]] not in it["ids"] and not any(held(i) for i in it["ids"]):
                out["orphans"].append(f"{what}: tagged {it['addr']}, which the state holds as {state_ids[it['addr']]}")
        elif not any(held(i) for i in it["ids"]):
            out["orphans"].append(f"{what} ({'/'.join(it['ids'])}): in no state")
    return out


if __name__ == "__main__":
    if sys.argv[1] != "audit":
        sys.exit(f"unknown command {sys.argv[1]}")
    print(json.dumps(audit(sys.argv[2], sys.argv[3]), default=str))
