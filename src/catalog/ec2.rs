//! Amazon EC2. Describing is a request on `*`. Starting, stopping, tagging and
//! snapshotting are judged on every resource they touch, as IAM does: each instance of
//! `start_instances`, each resource of `create_tags` (by its id's prefix), and for
//! `create_snapshot` both the volume and the new snapshot (`arn:aws:ec2:REGION::snapshot/*`,
//! without an account, as AWS writes snapshot ARNs).

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, Tag};
use serde_json::{Map, Value, json};

use super::args::{Arg, ArgumentError, Arguments, Kind, SHORT, optional, required};
use super::call::{Prepared, describe_sdk_error, output};
use super::{Access, Annotations, READS, ResourceShape, ToolSpec};
use crate::aws::Scope;

const FILTERS: Arg = optional(
    "filters",
    Kind::Object,
    "EC2 filters as {name: [values]}, e.g. {\"instance-state-name\": [\"running\"], \"tag:team\": [\"data\"]}.",
);
const TOKEN: Arg = optional("next_token", SHORT, "`next_token` of the previous page.");
const INSTANCES: Arg = required("instance_ids", Kind::List { max: 50 }, "The instances' ids, e.g. [\"i-0abc...\"].");

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "ec2_describe_instances",
        service: "ec2",
        operation: "DescribeInstances",
        action: "DescribeInstances",
        access: Access::List,
        resource: ResourceShape::None,
        annotations: READS,
        summary: "Describe instances: id, type, state, addresses, tags.",
        args: &[
            optional("instance_ids", Kind::List { max: 1000 }, "Only these instances."),
            FILTERS,
            optional("max_results", Kind::Integer { min: 5, max: 1000 }, "At most this many per page."),
            TOKEN,
        ],
        prepare: describe_instances,
    },
    ToolSpec {
        name: "ec2_describe_volumes",
        service: "ec2",
        operation: "DescribeVolumes",
        action: "DescribeVolumes",
        access: Access::List,
        resource: ResourceShape::None,
        annotations: READS,
        summary: "Describe EBS volumes: id, size, type, state, attachments, tags.",
        args: &[
            optional("volume_ids", Kind::List { max: 1000 }, "Only these volumes."),
            FILTERS,
            optional("max_results", Kind::Integer { min: 5, max: 500 }, "At most this many per page."),
            TOKEN,
        ],
        prepare: describe_volumes,
    },
    ToolSpec {
        name: "ec2_describe_regions",
        service: "ec2",
        operation: "DescribeRegions",
        action: "DescribeRegions",
        access: Access::List,
        resource: ResourceShape::None,
        annotations: READS,
        summary: "List the regions enabled for the account.",
        args: &[optional("all_regions", Kind::Boolean, "Include regions not enabled (default false).")],
        prepare: describe_regions,
    },
    ToolSpec::named_after_action(
        "ec2",
        ResourceShape::Instance,
        "ec2_start_instances",
        "StartInstances",
        Access::Write,
        Annotations { read_only: false, destructive: false, idempotent: true, open_world: true },
        "Start stopped instances.",
        &[INSTANCES],
        start_instances,
    ),
    ToolSpec::named_after_action(
        "ec2",
        ResourceShape::Instance,
        "ec2_stop_instances",
        "StopInstances",
        Access::Write,
        // Stopping ends what runs on the instances and loses instance-store data.
        Annotations { read_only: false, destructive: true, idempotent: true, open_world: true },
        "Stop running instances.",
        &[INSTANCES, optional("force", Kind::Boolean, "Stop without a graceful shutdown.")],
        stop_instances,
    ),
    ToolSpec::named_after_action(
        "ec2",
        ResourceShape::Ec2Resource,
        "ec2_create_tags",
        "CreateTags",
        Access::Write,
        // Overwrites a tag of the same key.
        Annotations { read_only: false, destructive: true, idempotent: true, open_world: true },
        "Add or overwrite tags on instances, volumes, snapshots, images and other EC2 resources.",
        &[
            required("resources", Kind::List { max: 50 }, "The resources' ids, e.g. [\"i-0abc...\", \"vol-0def...\"]."),
            required("tags", Kind::TextMap, "The tags, {key: value}."),
        ],
        create_tags,
    ),
    ToolSpec::named_after_action(
        "ec2",
        ResourceShape::Volume,
        "ec2_create_snapshot",
        "CreateSnapshot",
        Access::Write,
        Annotations { read_only: false, destructive: false, idempotent: false, open_world: true },
        "Create a snapshot of an EBS volume.",
        &[
            required("volume_id", SHORT, "The volume's id, e.g. `vol-0abc...`."),
            optional("description", Kind::Text { max: 255 }, "A description for the snapshot."),
        ],
        create_snapshot,
    ),
];

pub const TOOL_ACTIONS: &[&str] = &[
    "DescribeInstances",
    "DescribeVolumes",
    "DescribeRegions",
    "StartInstances",
    "StopInstances",
    "CreateTags",
    "CreateSnapshot",
];

/// An EC2 resource id: `PREFIX-` then 8 or 17 hex digits.
fn is_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| matches!(hex.len(), 8 | 17) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The id prefixes `create_tags` takes, with their ARN's resource type; snapshots and
/// images have no account in their ARN.
const TAGGABLE: &[(&str, &str, bool)] = &[
    ("i", "instance", true),
    ("vol", "volume", true),
    ("snap", "snapshot", false),
    ("ami", "image", false),
    ("sg", "security-group", true),
    ("subnet", "subnet", true),
    ("vpc", "vpc", true),
    ("eni", "network-interface", true),
    ("igw", "internet-gateway", true),
    ("rtb", "route-table", true),
    ("eipalloc", "elastic-ip", true),
    ("lt", "launch-template", true),
];

fn resource_arn(scope: &Scope, id: &str) -> Option<String> {
    let (prefix, kind, with_account) = TAGGABLE.iter().find(|(prefix, _, _)| is_id(id, prefix))?;
    let _ = prefix;
    let account = if *with_account { scope.account.as_str() } else { "" };
    Some(format!("arn:{}:ec2:{}:{account}:{kind}/{id}", scope.partition, scope.region))
}

fn ids(args: &Arguments, name: &str, prefix: &str, what: &str) -> Result<Vec<String>, ArgumentError> {
    let list = match args.opt_json(name) {
        None => return Ok(Vec::new()),
        Some(_) => args.list(name)?,
    };
    list.iter()
        .enumerate()
        .map(|(index, item)| match item.as_str() {
            Some(id) if is_id(id, prefix) => Ok(id.to_string()),
            _ => Err(ArgumentError(format!(
                "`{name}[{index}]` must be {what} id like `{prefix}-0123456789abcdef0`; got {}",
                super::args::printable(&item.to_string())
            ))),
        })
        .collect()
}

fn filters(args: &Arguments) -> Result<Option<Vec<Filter>>, ArgumentError> {
    let Some(map) = args.opt_object("filters") else { return Ok(None) };
    let mut out = Vec::new();
    for (name, values) in map {
        let values: Option<Vec<String>> =
            values.as_array().map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect());
        let Some(values) = values.filter(|v| !v.is_empty()) else {
            return Err(ArgumentError(format!("`filters.{name}` must be a list of strings")));
        };
        out.push(Filter::builder().name(name).set_values(Some(values)).build());
    }
    Ok(Some(out))
}

fn tags_json(tags: &[Tag]) -> Value {
    let map: BTreeMap<&str, &str> =
        tags.iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())).collect();
    json!(map)
}

fn describe_instances(args: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    let instance_ids = ids(args, "instance_ids", "i", "an instance")?;
    let filters = filters(args)?;
    let max = args.opt_i32("max_results");
    let token = args.opt_text("next_token").map(str::to_string);
    Ok(Prepared::new(vec!["*".into()], move |aws, _| async move {
        let out = aws
            .ec2
            .describe_instances()
            .set_instance_ids((!instance_ids.is_empty()).then_some(instance_ids))
            .set_filters(filters)
            .set_max_results(max)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let instances: Vec<Value> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                json!({
                    "instance_id": i.instance_id(),
                    "instance_type": i.instance_type().map(|t| t.as_str()),
                    "state": i.state().and_then(|s| s.name()).map(|n| n.as_str()),
                    "private_ip_address": i.private_ip_address(),
                    "public_ip_address": i.public_ip_address(),
                    "image_id": i.image_id(),
                    "launch_time": i.launch_time().map(|t| t.to_string()),
                    "tags": tags_json(i.tags()),
                })
            })
            .collect();
        Ok(output(json!({ "instances": instances, "next_token": out.next_token() }), &out))
    }))
}

fn describe_volumes(args: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    let volume_ids = ids(args, "volume_ids", "vol", "a volume")?;
    let filters = filters(args)?;
    let max = args.opt_i32("max_results");
    let token = args.opt_text("next_token").map(str::to_string);
    Ok(Prepared::new(vec!["*".into()], move |aws, _| async move {
        let out = aws
            .ec2
            .describe_volumes()
            .set_volume_ids((!volume_ids.is_empty()).then_some(volume_ids))
            .set_filters(filters)
            .set_max_results(max)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        let volumes: Vec<Value> = out
            .volumes()
            .iter()
            .map(|v| {
                let attached: Vec<Option<&str>> = v.attachments().iter().map(|a| a.instance_id()).collect();
                json!({
                    "volume_id": v.volume_id(),
                    "size_gib": v.size(),
                    "volume_type": v.volume_type().map(|t| t.as_str()),
                    "state": v.state().map(|s| s.as_str()),
                    "availability_zone": v.availability_zone(),
                    "encrypted": v.encrypted(),
                    "attached_to": attached,
                    "tags": tags_json(v.tags()),
                })
            })
            .collect();
        Ok(output(json!({ "volumes": volumes, "next_token": out.next_token() }), &out))
    }))
}

fn describe_regions(args: &Arguments, _: &Scope) -> Result<Prepared, ArgumentError> {
    let all = args.opt_bool("all_regions");
    Ok(Prepared::new(vec!["*".into()], move |aws, _| async move {
        let out = aws.ec2.describe_regions().set_all_regions(all).send().await.map_err(|e| describe_sdk_error(&e))?;
        let regions: Vec<Value> = out
            .regions()
            .iter()
            .map(|r| json!({ "name": r.region_name(), "endpoint": r.endpoint(), "opt_in_status": r.opt_in_status() }))
            .collect();
        Ok(output(json!({ "regions": regions }), &out))
    }))
}

fn instance_arns(scope: &Scope, ids: &[String]) -> Vec<String> {
    ids.iter()
        .map(|id| format!("arn:{}:ec2:{}:{}:instance/{id}", scope.partition, scope.region, scope.account))
        .collect()
}

fn state_changes(changes: &[aws_sdk_ec2::types::InstanceStateChange]) -> Vec<Value> {
    changes
        .iter()
        .map(|c| {
            json!({
                "instance_id": c.instance_id(),
                "previous_state": c.previous_state().and_then(|s| s.name()).map(|n| n.as_str()),
                "current_state": c.current_state().and_then(|s| s.name()).map(|n| n.as_str()),
            })
        })
        .collect()
}

fn required_ids(args: &Arguments) -> Result<Vec<String>, ArgumentError> {
    let list = ids(args, "instance_ids", "i", "an instance")?;
    if list.is_empty() {
        return Err(ArgumentError("`instance_ids` is empty: name at least one instance".into()));
    }
    Ok(list)
}

fn start_instances(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let instance_ids = required_ids(args)?;
    Ok(Prepared::new(instance_arns(scope, &instance_ids), move |aws, _| async move {
        let out = aws
            .ec2
            .start_instances()
            .set_instance_ids(Some(instance_ids))
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "instances": state_changes(out.starting_instances()) }), &out))
    }))
}

fn stop_instances(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let instance_ids = required_ids(args)?;
    let force = args.opt_bool("force");
    Ok(Prepared::new(instance_arns(scope, &instance_ids), move |aws, _| async move {
        let out = aws
            .ec2
            .stop_instances()
            .set_instance_ids(Some(instance_ids))
            .set_force(force)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "instances": state_changes(out.stopping_instances()) }), &out))
    }))
}

fn create_tags(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let mut resources = Vec::new();
    let mut arns = Vec::new();
    for (index, item) in args.list("resources")?.iter().enumerate() {
        let arn = item.as_str().and_then(|id| resource_arn(scope, id).map(|arn| (id.to_string(), arn)));
        let Some((id, arn)) = arn else {
            let kinds: Vec<&str> = TAGGABLE.iter().map(|(prefix, _, _)| *prefix).collect();
            return Err(ArgumentError(format!(
                "`resources[{index}]` must be an EC2 resource id with one of the prefixes {} (like `i-0123456789abcdef0`); got {}",
                kinds.join(", "),
                super::args::printable(&item.to_string())
            )));
        };
        resources.push(id);
        arns.push(arn);
    }
    if resources.is_empty() {
        return Err(ArgumentError("`resources` is empty: name at least one resource".into()));
    }
    let tags_map: &Map<String, Value> = args.object("tags")?;
    if tags_map.is_empty() {
        return Err(ArgumentError("`tags` is empty: give at least one tag".into()));
    }
    let tags: Vec<Tag> =
        tags_map.iter().map(|(k, v)| Tag::builder().key(k).value(v.as_str().unwrap_or_default()).build()).collect();
    let count = resources.len();
    Ok(Prepared::new(arns, move |aws, _| async move {
        let out = aws
            .ec2
            .create_tags()
            .set_resources(Some(resources))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(json!({ "tagged": count }), &out))
    }))
}

fn create_snapshot(args: &Arguments, scope: &Scope) -> Result<Prepared, ArgumentError> {
    let volume = args.text("volume_id")?.to_string();
    if !is_id(&volume, "vol") {
        return Err(ArgumentError(format!(
            "`volume_id` must be a volume id like `vol-0123456789abcdef0`; got `{}`",
            super::args::printable(&volume)
        )));
    }
    let description = args.opt_text("description").map(str::to_string);
    let volume_arn = format!("arn:{}:ec2:{}:{}:volume/{volume}", scope.partition, scope.region, scope.account);
    // The snapshot does not exist yet: IAM judges the new one as `snapshot/*`.
    let snapshot_arn = format!("arn:{}:ec2:{}::snapshot/*", scope.partition, scope.region);
    Ok(Prepared::new(vec![volume_arn, snapshot_arn], move |aws, _| async move {
        let out = aws
            .ec2
            .create_snapshot()
            .volume_id(&volume)
            .set_description(description)
            .send()
            .await
            .map_err(|e| describe_sdk_error(&e))?;
        Ok(output(
            json!({
                "snapshot_id": out.snapshot_id(),
                "volume_id": out.volume_id(),
                "state": out.state().map(|s| s.as_str()),
                "start_time": out.start_time().map(|t| t.to_string()),
            }),
            &out,
        ))
    }))
}

/// Every IAM action of the service, for validating policies (AWS Service Authorization Reference).
pub const IAM_ACTIONS: &[&str] = &[
    "AcceptAddressTransfer",
    "AcceptCapacityReservationBillingOwnership",
    "AcceptReservedInstancesExchangeQuote",
    "AcceptTransitGatewayMulticastDomainAssociations",
    "AcceptTransitGatewayPeeringAttachment",
    "AcceptTransitGatewayVpcAttachment",
    "AcceptVpcEndpointConnections",
    "AcceptVpcPeeringConnection",
    "AdvertiseByoipCidr",
    "AllocateAddress",
    "AllocateHosts",
    "AllocateIpamPoolCidr",
    "ApplySecurityGroupsToClientVpnTargetNetwork",
    "AssignIpv6Addresses",
    "AssignPrivateIpAddresses",
    "AssignPrivateNatGatewayAddress",
    "AssociateAddress",
    "AssociateCapacityReservationBillingOwner",
    "AssociateClientVpnTargetNetwork",
    "AssociateDhcpOptions",
    "AssociateEnclaveCertificateIamRole",
    "AssociateIamInstanceProfile",
    "AssociateInstanceEventWindow",
    "AssociateIpamByoasn",
    "AssociateIpamResourceDiscovery",
    "AssociateNatGatewayAddress",
    "AssociateRouteServer",
    "AssociateRouteTable",
    "AssociateSecurityGroupVpc",
    "AssociateSubnetCidrBlock",
    "AssociateTransitGatewayMulticastDomain",
    "AssociateTransitGatewayPolicyTable",
    "AssociateTransitGatewayRouteTable",
    "AssociateTrunkInterface",
    "AssociateVerifiedAccessInstanceWebAcl",
    "AssociateVpcCidrBlock",
    "AttachApplianceToNatGateway",
    "AttachClassicLinkVpc",
    "AttachInternetGateway",
    "AttachNetworkInterface",
    "AttachResourcesToPlacementGroup",
    "AttachVerifiedAccessTrustProvider",
    "AttachVolume",
    "AttachVpnGateway",
    "AuthorizeClientVpnIngress",
    "AuthorizeSecurityGroupEgress",
    "AuthorizeSecurityGroupIngress",
    "BundleInstance",
    "CancelBundleTask",
    "CancelCapacityReservation",
    "CancelCapacityReservationFleets",
    "CancelConversionTask",
    "CancelDeclarativePoliciesReport",
    "CancelExportTask",
    "CancelImageLaunchPermission",
    "CancelImportTask",
    "CancelReservedInstancesListing",
    "CancelSpotFleetRequests",
    "CancelSpotInstanceRequests",
    "ConfirmProductInstance",
    "CopyFpgaImage",
    "CopyImage",
    "CopySnapshot",
    "CopyVolumes",
    "CreateCapacityManagerDataExport",
    "CreateCapacityReservation",
    "CreateCapacityReservationBySplitting",
    "CreateCapacityReservationFleet",
    "CreateCarrierGateway",
    "CreateClientVpnEndpoint",
    "CreateClientVpnRoute",
    "CreateCoipCidr",
    "CreateCoipPool",
    "CreateCoipPoolPermission",
    "CreateCustomerGateway",
    "CreateDefaultSubnet",
    "CreateDefaultVpc",
    "CreateDelegateMacVolumeOwnershipTask",
    "CreateDhcpOptions",
    "CreateEgressOnlyInternetGateway",
    "CreateFleet",
    "CreateFlowLogs",
    "CreateFpgaImage",
    "CreateImage",
    "CreateImageUsageReport",
    "CreateInstanceConnectEndpoint",
    "CreateInstanceEventWindow",
    "CreateInstanceExportTask",
    "CreateInternetGateway",
    "CreateInterruptibleCapacityReservationAllocation",
    "CreateIpam",
    "CreateIpamExternalResourceVerificationToken",
    "CreateIpamPolicy",
    "CreateIpamPool",
    "CreateIpamPrefixListResolver",
    "CreateIpamPrefixListResolverTarget",
    "CreateIpamResourceDiscovery",
    "CreateIpamScope",
    "CreateKeyPair",
    "CreateLaunchTemplate",
    "CreateLaunchTemplateVersion",
    "CreateLocalGatewayRoute",
    "CreateLocalGatewayRouteTable",
    "CreateLocalGatewayRouteTablePermission",
    "CreateLocalGatewayRouteTableVirtualInterfaceGroupAssociation",
    "CreateLocalGatewayRouteTableVpcAssociation",
    "CreateLocalGatewayVirtualInterface",
    "CreateLocalGatewayVirtualInterfaceGroup",
    "CreateMacSystemIntegrityProtectionModificationTask",
    "CreateManagedPrefixList",
    "CreateNatGateway",
    "CreateNetworkAcl",
    "CreateNetworkAclEntry",
    "CreateNetworkInsightsAccessScope",
    "CreateNetworkInsightsPath",
    "CreateNetworkInterface",
    "CreateNetworkInterfacePermission",
    "CreateOdbNetworkPeering",
    "CreatePlacementGroup",
    "CreatePublicIpv4Pool",
    "CreateReplaceRootVolumeTask",
    "CreateReservedInstancesListing",
    "CreateRestoreImageTask",
    "CreateRoute",
    "CreateRouteServer",
    "CreateRouteServerEndpoint",
    "CreateRouteServerPeer",
    "CreateRouteTable",
    "CreateSecondaryNetwork",
    "CreateSecondarySubnet",
    "CreateSecurityGroup",
    "CreateSnapshot",
    "CreateSnapshots",
    "CreateSpotDatafeedSubscription",
    "CreateStoreImageTask",
    "CreateSubnet",
    "CreateSubnetCidrReservation",
    "CreateTags",
    "CreateTrafficMirrorFilter",
    "CreateTrafficMirrorFilterRule",
    "CreateTrafficMirrorSession",
    "CreateTrafficMirrorTarget",
    "CreateTransitGateway",
    "CreateTransitGatewayConnect",
    "CreateTransitGatewayConnectPeer",
    "CreateTransitGatewayMeteringPolicy",
    "CreateTransitGatewayMeteringPolicyEntry",
    "CreateTransitGatewayMulticastDomain",
    "CreateTransitGatewayPeeringAttachment",
    "CreateTransitGatewayPolicyTable",
    "CreateTransitGatewayPrefixListReference",
    "CreateTransitGatewayRoute",
    "CreateTransitGatewayRouteTable",
    "CreateTransitGatewayRouteTableAnnouncement",
    "CreateTransitGatewayVpcAttachment",
    "CreateVerifiedAccessEndpoint",
    "CreateVerifiedAccessGroup",
    "CreateVerifiedAccessInstance",
    "CreateVerifiedAccessTrustProvider",
    "CreateVolume",
    "CreateVpc",
    "CreateVpcBlockPublicAccessExclusion",
    "CreateVpcEncryptionControl",
    "CreateVpcEndpoint",
    "CreateVpcEndpointConnectionNotification",
    "CreateVpcEndpointServiceConfiguration",
    "CreateVpcPeeringConnection",
    "CreateVpnConcentrator",
    "CreateVpnConnection",
    "CreateVpnConnectionRoute",
    "CreateVpnGateway",
    "DeleteCapacityManagerDataExport",
    "DeleteCarrierGateway",
    "DeleteClientVpnEndpoint",
    "DeleteClientVpnRoute",
    "DeleteCoipCidr",
    "DeleteCoipPool",
    "DeleteCoipPoolPermission",
    "DeleteCustomerGateway",
    "DeleteDhcpOptions",
    "DeleteEgressOnlyInternetGateway",
    "DeleteFleets",
    "DeleteFlowLogs",
    "DeleteFpgaImage",
    "DeleteImageUsageReport",
    "DeleteInstanceConnectEndpoint",
    "DeleteInstanceEventWindow",
    "DeleteInternetGateway",
    "DeleteIpam",
    "DeleteIpamExternalResourceVerificationToken",
    "DeleteIpamPolicy",
    "DeleteIpamPool",
    "DeleteIpamPrefixListResolver",
    "DeleteIpamPrefixListResolverTarget",
    "DeleteIpamResourceDiscovery",
    "DeleteIpamScope",
    "DeleteKeyPair",
    "DeleteLaunchTemplate",
    "DeleteLaunchTemplateVersions",
    "DeleteLocalGatewayRoute",
    "DeleteLocalGatewayRouteTable",
    "DeleteLocalGatewayRouteTablePermission",
    "DeleteLocalGatewayRouteTableVirtualInterfaceGroupAssociation",
    "DeleteLocalGatewayRouteTableVpcAssociation",
    "DeleteLocalGatewayVirtualInterface",
    "DeleteLocalGatewayVirtualInterfaceGroup",
    "DeleteManagedPrefixList",
    "DeleteNatGateway",
    "DeleteNetworkAcl",
    "DeleteNetworkAclEntry",
    "DeleteNetworkInsightsAccessScope",
    "DeleteNetworkInsightsAccessScopeAnalysis",
    "DeleteNetworkInsightsAnalysis",
    "DeleteNetworkInsightsPath",
    "DeleteNetworkInterface",
    "DeleteNetworkInterfacePermission",
    "DeleteOdbNetworkPeering",
    "DeletePlacementGroup",
    "DeletePublicIpv4Pool",
    "DeleteQueuedReservedInstances",
    "DeleteResourcePolicy",
    "DeleteRoute",
    "DeleteRouteServer",
    "DeleteRouteServerEndpoint",
    "DeleteRouteServerPeer",
    "DeleteRouteTable",
    "DeleteSecondaryNetwork",
    "DeleteSecondarySubnet",
    "DeleteSecurityGroup",
    "DeleteSnapshot",
    "DeleteSpotDatafeedSubscription",
    "DeleteSubnet",
    "DeleteSubnetCidrReservation",
    "DeleteTags",
    "DeleteTrafficMirrorFilter",
    "DeleteTrafficMirrorFilterRule",
    "DeleteTrafficMirrorSession",
    "DeleteTrafficMirrorTarget",
    "DeleteTransitGateway",
    "DeleteTransitGatewayConnect",
    "DeleteTransitGatewayConnectPeer",
    "DeleteTransitGatewayMeteringPolicy",
    "DeleteTransitGatewayMeteringPolicyEntry",
    "DeleteTransitGatewayMulticastDomain",
    "DeleteTransitGatewayPeeringAttachment",
    "DeleteTransitGatewayPolicyTable",
    "DeleteTransitGatewayPrefixListReference",
    "DeleteTransitGatewayRoute",
    "DeleteTransitGatewayRouteTable",
    "DeleteTransitGatewayRouteTableAnnouncement",
    "DeleteTransitGatewayVpcAttachment",
    "DeleteVerifiedAccessEndpoint",
    "DeleteVerifiedAccessGroup",
    "DeleteVerifiedAccessInstance",
    "DeleteVerifiedAccessTrustProvider",
    "DeleteVolume",
    "DeleteVpc",
    "DeleteVpcBlockPublicAccessExclusion",
    "DeleteVpcEncryptionControl",
    "DeleteVpcEndpointConnectionNotifications",
    "DeleteVpcEndpointServiceConfigurations",
    "DeleteVpcEndpoints",
    "DeleteVpcPeeringConnection",
    "DeleteVpnConcentrator",
    "DeleteVpnConnection",
    "DeleteVpnConnectionRoute",
    "DeleteVpnGateway",
    "DeprovisionByoipCidr",
    "DeprovisionIpamByoasn",
    "DeprovisionIpamPoolCidr",
    "DeprovisionPublicIpv4PoolCidr",
    "DeregisterImage",
    "DeregisterInstanceEventNotificationAttributes",
    "DeregisterTransitGatewayMulticastGroupMembers",
    "DeregisterTransitGatewayMulticastGroupSources",
    "DescribeAccountAttributes",
    "DescribeAddressTransfers",
    "DescribeAddresses",
    "DescribeAddressesAttribute",
    "DescribeAggregateIdFormat",
    "DescribeAvailabilityZones",
    "DescribeAwsNetworkPerformanceMetricSubscriptions",
    "DescribeBundleTasks",
    "DescribeByoipCidrs",
    "DescribeCapacityBlockExtensionHistory",
    "DescribeCapacityBlockExtensionOfferings",
    "DescribeCapacityBlockOfferings",
    "DescribeCapacityBlockStatus",
    "DescribeCapacityBlocks",
    "DescribeCapacityManagerDataExports",
    "DescribeCapacityReservationBillingRequests",
    "DescribeCapacityReservationFleets",
    "DescribeCapacityReservationTopology",
    "DescribeCapacityReservations",
    "DescribeCarrierGateways",
    "DescribeClassicLinkInstances",
    "DescribeClientVpnAuthorizationRules",
    "DescribeClientVpnConnections",
    "DescribeClientVpnEndpoints",
    "DescribeClientVpnRoutes",
    "DescribeClientVpnTargetNetworks",
    "DescribeCoipPools",
    "DescribeConversionTasks",
    "DescribeCustomerGateways",
    "DescribeDeclarativePoliciesReports",
    "DescribeDhcpOptions",
    "DescribeEgressOnlyInternetGateways",
    "DescribeElasticGpus",
    "DescribeExportImageTasks",
    "DescribeExportTasks",
    "DescribeFastLaunchImages",
    "DescribeFastSnapshotRestores",
    "DescribeFleetHistory",
    "DescribeFleetInstances",
    "DescribeFleets",
    "DescribeFlowLogs",
    "DescribeFpgaImageAttribute",
    "DescribeFpgaImages",
    "DescribeHostReservationOfferings",
    "DescribeHostReservations",
    "DescribeHosts",
    "DescribeIamInstanceProfileAssociations",
    "DescribeIdFormat",
    "DescribeIdentityIdFormat",
    "DescribeImageAttribute",
    "DescribeImageReferences",
    "DescribeImageUsageReportEntries",
    "DescribeImageUsageReports",
    "DescribeImages",
    "DescribeImportImageTasks",
    "DescribeImportSnapshotTasks",
    "DescribeInstanceAttribute",
    "DescribeInstanceConnectEndpoints",
    "DescribeInstanceCreditSpecifications",
    "DescribeInstanceEventNotificationAttributes",
    "DescribeInstanceEventWindows",
    "DescribeInstanceImageMetadata",
    "DescribeInstanceSqlHaHistoryStates",
    "DescribeInstanceSqlHaStates",
    "DescribeInstanceStatus",
    "DescribeInstanceTopology",
    "DescribeInstanceTypeOfferings",
    "DescribeInstanceTypes",
    "DescribeInstances",
    "DescribeInternetGateways",
    "DescribeIpamByoasn",
    "DescribeIpamExternalResourceVerificationTokens",
    "DescribeIpamPolicies",
    "DescribeIpamPools",
    "DescribeIpamPrefixListResolverTargets",
    "DescribeIpamPrefixListResolvers",
    "DescribeIpamResourceDiscoveries",
    "DescribeIpamResourceDiscoveryAssociations",
    "DescribeIpamScopes",
    "DescribeIpams",
    "DescribeIpv6Pools",
    "DescribeKeyPairs",
    "DescribeLaunchTemplateVersions",
    "DescribeLaunchTemplates",
    "DescribeLocalGatewayRouteTablePermissions",
    "DescribeLocalGatewayRouteTableVirtualInterfaceGroupAssociations",
    "DescribeLocalGatewayRouteTableVpcAssociations",
    "DescribeLocalGatewayRouteTables",
    "DescribeLocalGatewayVirtualInterfaceGroups",
    "DescribeLocalGatewayVirtualInterfaces",
    "DescribeLocalGateways",
    "DescribeLockedSnapshots",
    "DescribeMacHosts",
    "DescribeMacModificationTasks",
    "DescribeManagedPrefixLists",
    "DescribeMovingAddresses",
    "DescribeNatGateways",
    "DescribeNetworkAcls",
    "DescribeNetworkInsightsAccessScopeAnalyses",
    "DescribeNetworkInsightsAccessScopes",
    "DescribeNetworkInsightsAnalyses",
    "DescribeNetworkInsightsPaths",
    "DescribeNetworkInterfaceAttribute",
    "DescribeNetworkInterfacePermissions",
    "DescribeNetworkInterfaces",
    "DescribeOutpostLags",
    "DescribePlacementGroups",
    "DescribePrefixLists",
    "DescribePrincipalIdFormat",
    "DescribePublicIpv4Pools",
    "DescribeRegions",
    "DescribeReplaceRootVolumeTasks",
    "DescribeReservedInstances",
    "DescribeReservedInstancesListings",
    "DescribeReservedInstancesModifications",
    "DescribeReservedInstancesOfferings",
    "DescribeRouteServerEndpoints",
    "DescribeRouteServerPeers",
    "DescribeRouteServers",
    "DescribeRouteTables",
    "DescribeScheduledInstanceAvailability",
    "DescribeScheduledInstances",
    "DescribeSecondaryInterfaces",
    "DescribeSecondaryNetworks",
    "DescribeSecondarySubnets",
    "DescribeSecurityGroupReferences",
    "DescribeSecurityGroupRules",
    "DescribeSecurityGroupVpcAssociations",
    "DescribeSecurityGroups",
    "DescribeServiceLinkVirtualInterfaces",
    "DescribeSnapshotAttribute",
    "DescribeSnapshotTierStatus",
    "DescribeSnapshots",
    "DescribeSpotDatafeedSubscription",
    "DescribeSpotFleetInstances",
    "DescribeSpotFleetRequestHistory",
    "DescribeSpotFleetRequests",
    "DescribeSpotInstanceRequests",
    "DescribeSpotPriceHistory",
    "DescribeStaleSecurityGroups",
    "DescribeStoreImageTasks",
    "DescribeSubnets",
    "DescribeTags",
    "DescribeTrafficMirrorFilterRules",
    "DescribeTrafficMirrorFilters",
    "DescribeTrafficMirrorSessions",
    "DescribeTrafficMirrorTargets",
    "DescribeTransitGatewayAttachments",
    "DescribeTransitGatewayConnectPeers",
    "DescribeTransitGatewayConnects",
    "DescribeTransitGatewayMeteringPolicies",
    "DescribeTransitGatewayMulticastDomains",
    "DescribeTransitGatewayPeeringAttachments",
    "DescribeTransitGatewayPolicyTables",
    "DescribeTransitGatewayRouteTableAnnouncements",
    "DescribeTransitGatewayRouteTables",
    "DescribeTransitGatewayVpcAttachments",
    "DescribeTransitGateways",
    "DescribeTrunkInterfaceAssociations",
    "DescribeVerifiedAccessEndpoints",
    "DescribeVerifiedAccessGroups",
    "DescribeVerifiedAccessInstanceLoggingConfigurations",
    "DescribeVerifiedAccessInstanceWebAclAssociations",
    "DescribeVerifiedAccessInstances",
    "DescribeVerifiedAccessTrustProviders",
    "DescribeVolumeAttribute",
    "DescribeVolumeStatus",
    "DescribeVolumes",
    "DescribeVolumesModifications",
    "DescribeVpcAttribute",
    "DescribeVpcBlockPublicAccessExclusions",
    "DescribeVpcBlockPublicAccessOptions",
    "DescribeVpcClassicLink",
    "DescribeVpcClassicLinkDnsSupport",
    "DescribeVpcEncryptionControls",
    "DescribeVpcEndpointAssociations",
    "DescribeVpcEndpointConnectionNotifications",
    "DescribeVpcEndpointConnections",
    "DescribeVpcEndpointServiceConfigurations",
    "DescribeVpcEndpointServicePermissions",
    "DescribeVpcEndpointServices",
    "DescribeVpcEndpoints",
    "DescribeVpcPeeringConnections",
    "DescribeVpcs",
    "DescribeVpnConcentrators",
    "DescribeVpnConnections",
    "DescribeVpnGateways",
    "DetachApplianceFromNatGateway",
    "DetachClassicLinkVpc",
    "DetachInternetGateway",
    "DetachNetworkInterface",
    "DetachResourcesFromPlacementGroup",
    "DetachVerifiedAccessTrustProvider",
    "DetachVolume",
    "DetachVpnGateway",
    "DisableAddressTransfer",
    "DisableAllowedImagesSettings",
    "DisableAwsNetworkPerformanceMetricSubscription",
    "DisableCapacityManager",
    "DisableEbsEncryptionByDefault",
    "DisableFastLaunch",
    "DisableFastSnapshotRestores",
    "DisableImage",
    "DisableImageBlockPublicAccess",
    "DisableImageDeprecation",
    "DisableImageDeregistrationProtection",
    "DisableInstanceSqlHaStandbyDetections",
    "DisableIpamOrganizationAdminAccount",
    "DisableIpamPolicy",
    "DisableRouteServerPropagation",
    "DisableSerialConsoleAccess",
    "DisableSnapshotBlockPublicAccess",
    "DisableTransitGatewayRouteTablePropagation",
    "DisableVgwRoutePropagation",
    "DisableVpcClassicLink",
    "DisableVpcClassicLinkDnsSupport",
    "DisassociateAddress",
    "DisassociateCapacityReservationBillingOwner",
    "DisassociateClientVpnTargetNetwork",
    "DisassociateEnclaveCertificateIamRole",
    "DisassociateIamInstanceProfile",
    "DisassociateInstanceEventWindow",
    "DisassociateIpamByoasn",
    "DisassociateIpamResourceDiscovery",
    "DisassociateNatGatewayAddress",
    "DisassociateRouteServer",
    "DisassociateRouteTable",
    "DisassociateSecurityGroupVpc",
    "DisassociateSubnetCidrBlock",
    "DisassociateTransitGatewayMulticastDomain",
    "DisassociateTransitGatewayPolicyTable",
    "DisassociateTransitGatewayRouteTable",
    "DisassociateTrunkInterface",
    "DisassociateVerifiedAccessInstanceWebAcl",
    "DisassociateVpcCidrBlock",
    "EnableAddressTransfer",
    "EnableAllowedImagesSettings",
    "EnableAwsNetworkPerformanceMetricSubscription",
    "EnableCapacityManager",
    "EnableEbsEncryptionByDefault",
    "EnableFastLaunch",
    "EnableFastSnapshotRestores",
    "EnableImage",
    "EnableImageBlockPublicAccess",
    "EnableImageDeprecation",
    "EnableImageDeregistrationProtection",
    "EnableInstanceSqlHaStandbyDetections",
    "EnableIpamOrganizationAdminAccount",
    "EnableIpamPolicy",
    "EnableReachabilityAnalyzerOrganizationSharing",
    "EnableRouteServerPropagation",
    "EnableSerialConsoleAccess",
    "EnableSnapshotBlockPublicAccess",
    "EnableTransitGatewayRouteTablePropagation",
    "EnableVgwRoutePropagation",
    "EnableVolumeIO",
    "EnableVpcClassicLink",
    "EnableVpcClassicLinkDnsSupport",
    "ExportClientVpnClientCertificateRevocationList",
    "ExportClientVpnClientConfiguration",
    "ExportImage",
    "ExportTransitGatewayRoutes",
    "ExportVerifiedAccessInstanceClientConfiguration",
    "GetActiveVpnTunnelStatus",
    "GetAllowedImagesSettings",
    "GetAssociatedEnclaveCertificateIamRoles",
    "GetAssociatedIpv6PoolCidrs",
    "GetAwsNetworkPerformanceData",
    "GetCapacityManagerAttributes",
    "GetCapacityManagerMetricData",
    "GetCapacityManagerMetricDimensions",
    "GetCapacityReservationUsage",
    "GetCoipPoolUsage",
    "GetConsoleOutput",
    "GetConsoleScreenshot",
    "GetDeclarativePoliciesReportSummary",
    "GetDefaultCreditSpecification",
    "GetEbsDefaultKmsKeyId",
    "GetEbsEncryptionByDefault",
    "GetEnabledIpamPolicy",
    "GetFlowLogsIntegrationTemplate",
    "GetGroupsForCapacityReservation",
    "GetHostReservationPurchasePreview",
    "GetImageAncestry",
    "GetImageBlockPublicAccessState",
    "GetInstanceMetadataDefaults",
    "GetInstanceTpmEkPub",
    "GetInstanceTypesFromInstanceRequirements",
    "GetInstanceUefiData",
    "GetIpamAddressHistory",
    "GetIpamDiscoveredAccounts",
    "GetIpamDiscoveredPublicAddresses",
    "GetIpamDiscoveredResourceCidrs",
    "GetIpamPolicyAllocationRules",
    "GetIpamPolicyOrganizationTargets",
    "GetIpamPoolAllocations",
    "GetIpamPoolCidrs",
    "GetIpamPrefixListResolverRules",
    "GetIpamPrefixListResolverVersionEntries",
    "GetIpamPrefixListResolverVersions",
    "GetIpamResourceCidrs",
    "GetLaunchTemplateData",
    "GetManagedPrefixListAssociations",
    "GetManagedPrefixListEntries",
    "GetNetworkInsightsAccessScopeAnalysisFindings",
    "GetNetworkInsightsAccessScopeContent",
    "GetPasswordData",
    "GetReservedInstancesExchangeQuote",
    "GetResourcePolicy",
    "GetRouteServerAssociations",
    "GetRouteServerPropagations",
    "GetRouteServerRoutingDatabase",
    "GetSecurityGroupsForVpc",
    "GetSerialConsoleAccessStatus",
    "GetSnapshotBlockPublicAccessState",
    "GetSpotPlacementScores",
    "GetSubnetCidrReservations",
    "GetTransitGatewayAttachmentPropagations",
    "GetTransitGatewayMeteringPolicyEntries",
    "GetTransitGatewayMulticastDomainAssociations",
    "GetTransitGatewayPolicyTableAssociations",
    "GetTransitGatewayPolicyTableEntries",
    "GetTransitGatewayPrefixListReferences",
    "GetTransitGatewayRouteTableAssociations",
    "GetTransitGatewayRouteTablePropagations",
    "GetVerifiedAccessEndpointPolicy",
    "GetVerifiedAccessEndpointTargets",
    "GetVerifiedAccessGroupPolicy",
    "GetVerifiedAccessInstanceWebAcl",
    "GetVpcResourcesBlockingEncryptionEnforcement",
    "GetVpnConnectionDeviceSampleConfiguration",
    "GetVpnConnectionDeviceTypes",
    "GetVpnTunnelReplacementStatus",
    "ImportByoipCidrToIpam",
    "ImportClientVpnClientCertificateRevocationList",
    "ImportImage",
    "ImportInstance",
    "ImportKeyPair",
    "ImportSnapshot",
    "ImportVolume",
    "InjectApiError",
    "InjectVolumeIOLatency",
    "ListImagesInRecycleBin",
    "ListSnapshotsInRecycleBin",
    "ListVolumesInRecycleBin",
    "LockSnapshot",
    "ModifyAddressAttribute",
    "ModifyAvailabilityZoneGroup",
    "ModifyCapacityReservation",
    "ModifyCapacityReservationFleet",
    "ModifyClientVpnEndpoint",
    "ModifyDefaultCreditSpecification",
    "ModifyEbsDefaultKmsKeyId",
    "ModifyFleet",
    "ModifyFpgaImageAttribute",
    "ModifyHosts",
    "ModifyIdFormat",
    "ModifyIdentityIdFormat",
    "ModifyImageAttribute",
    "ModifyInstanceAttribute",
    "ModifyInstanceCapacityReservationAttributes",
    "ModifyInstanceConnectEndpoint",
    "ModifyInstanceCpuOptions",
    "ModifyInstanceCreditSpecification",
    "ModifyInstanceEventStartTime",
    "ModifyInstanceEventWindow",
    "ModifyInstanceMaintenanceOptions",
    "ModifyInstanceMetadataDefaults",
    "ModifyInstanceMetadataOptions",
    "ModifyInstanceNetworkPerformanceOptions",
    "ModifyInstancePlacement",
    "ModifyIpam",
    "ModifyIpamPolicyAllocationRules",
    "ModifyIpamPool",
    "ModifyIpamPrefixListResolver",
    "ModifyIpamPrefixListResolverTarget",
    "ModifyIpamResourceCidr",
    "ModifyIpamResourceDiscovery",
    "ModifyIpamScope",
    "ModifyLaunchTemplate",
    "ModifyLocalGatewayRoute",
    "ModifyManagedPrefixList",
    "ModifyNetworkInterfaceAttribute",
    "ModifyOdbNetworkPeering",
    "ModifyPrivateDnsNameOptions",
    "ModifyPublicIpDnsNameOptions",
    "ModifyReservedInstances",
    "ModifyRouteServer",
    "ModifySecurityGroupRules",
    "ModifySnapshotAttribute",
    "ModifySnapshotTier",
    "ModifySpotFleetRequest",
    "ModifySubnetAttribute",
    "ModifyTrafficMirrorFilterNetworkServices",
    "ModifyTrafficMirrorFilterRule",
    "ModifyTrafficMirrorSession",
    "ModifyTransitGateway",
    "ModifyTransitGatewayMeteringPolicy",
    "ModifyTransitGatewayPrefixListReference",
    "ModifyTransitGatewayVpcAttachment",
    "ModifyVerifiedAccessEndpoint",
    "ModifyVerifiedAccessEndpointPolicy",
    "ModifyVerifiedAccessGroup",
    "ModifyVerifiedAccessGroupPolicy",
    "ModifyVerifiedAccessInstance",
    "ModifyVerifiedAccessInstanceLoggingConfiguration",
    "ModifyVerifiedAccessTrustProvider",
    "ModifyVolume",
    "ModifyVolumeAttribute",
    "ModifyVpcAttribute",
    "ModifyVpcBlockPublicAccessExclusion",
    "ModifyVpcBlockPublicAccessOptions",
    "ModifyVpcEncryptionControl",
    "ModifyVpcEndpoint",
    "ModifyVpcEndpointConnectionNotification",
    "ModifyVpcEndpointServiceConfiguration",
    "ModifyVpcEndpointServicePayerResponsibility",
    "ModifyVpcEndpointServicePermissions",
    "ModifyVpcPeeringConnectionOptions",
    "ModifyVpcTenancy",
    "ModifyVpnConnection",
    "ModifyVpnConnectionOptions",
    "ModifyVpnTunnelCertificate",
    "ModifyVpnTunnelOptions",
    "MonitorInstances",
    "MoveAddressToVpc",
    "MoveByoipCidrToIpam",
    "MoveCapacityReservationInstances",
    "PauseVolumeIO",
    "ProvisionByoipCidr",
    "ProvisionIpamByoasn",
    "ProvisionIpamPoolCidr",
    "ProvisionPublicIpv4PoolCidr",
    "PurchaseCapacityBlock",
    "PurchaseCapacityBlockExtension",
    "PurchaseHostReservation",
    "PurchaseReservedInstancesOffering",
    "PurchaseScheduledInstances",
    "PutResourcePolicy",
    "RebootInstances",
    "RegisterImage",
    "RegisterInstanceEventNotificationAttributes",
    "RegisterTransitGatewayMulticastGroupMembers",
    "RegisterTransitGatewayMulticastGroupSources",
    "RejectCapacityReservationBillingOwnership",
    "RejectTransitGatewayMulticastDomainAssociations",
    "RejectTransitGatewayPeeringAttachment",
    "RejectTransitGatewayVpcAttachment",
    "RejectVpcEndpointConnections",
    "RejectVpcPeeringConnection",
    "ReleaseAddress",
    "ReleaseHosts",
    "ReleaseIpamPoolAllocation",
    "ReplaceIamInstanceProfileAssociation",
    "ReplaceImageCriteriaInAllowedImagesSettings",
    "ReplaceNetworkAclAssociation",
    "ReplaceNetworkAclEntry",
    "ReplaceRoute",
    "ReplaceRouteTableAssociation",
    "ReplaceTransitGatewayRoute",
    "ReplaceVpnTunnel",
    "ReportInstanceStatus",
    "RequestSpotFleet",
    "RequestSpotInstances",
    "ResetAddressAttribute",
    "ResetEbsDefaultKmsKeyId",
    "ResetFpgaImageAttribute",
    "ResetImageAttribute",
    "ResetInstanceAttribute",
    "ResetNetworkInterfaceAttribute",
    "ResetSnapshotAttribute",
    "RestoreAddressToClassic",
    "RestoreImageFromRecycleBin",
    "RestoreManagedPrefixListVersion",
    "RestoreSnapshotFromRecycleBin",
    "RestoreSnapshotTier",
    "RestoreVolumeFromRecycleBin",
    "RevokeClientVpnIngress",
    "RevokeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RunInstances",
    "RunScheduledInstances",
    "SearchLocalGatewayRoutes",
    "SearchTransitGatewayMulticastGroups",
    "SearchTransitGatewayRoutes",
    "SendDiagnosticInterrupt",
    "SendSpotInstanceInterruptions",
    "StartDeclarativePoliciesReport",
    "StartInstances",
    "StartNetworkInsightsAccessScopeAnalysis",
    "StartNetworkInsightsAnalysis",
    "StartVpcEndpointServicePrivateDnsVerification",
    "StopInstances",
    "TerminateClientVpnConnections",
    "TerminateInstances",
    "UnassignIpv6Addresses",
    "UnassignPrivateIpAddresses",
    "UnassignPrivateNatGatewayAddress",
    "UnlockSnapshot",
    "UnmonitorInstances",
    "UpdateCapacityManagerOrganizationsAccess",
    "UpdateInterruptibleCapacityReservationAllocation",
    "UpdateSecurityGroupRuleDescriptionsEgress",
    "UpdateSecurityGroupRuleDescriptionsIngress",
    "WithdrawByoipCidr",
];
