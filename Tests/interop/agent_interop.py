#!/usr/bin/env python3
"""CBR agents through huaweicloudsdkcbr (AK/SK) against a running `coffer serve`:
register_agent, list_agent, show_agent, update_agent, add_agent_path,
remove_agent_path, check_agent, unregister_agent, each answer read through the
SDK's own models. Usage: agent_interop.py ENDPOINT ADMIN_CREDENTIALS_JSON"""
import json
import sys

from common import check, finish, wait_healthy
from huaweicloudsdkcbr.v1 import CbrClient
from huaweicloudsdkcbr.v1.model import (AddAgentPathRequest, AgentAddPathReq, AgentRegister, AgentRegisterReq, AgentRemovePathReq, AgentUpdate,
                                        AgentUpdateReq, CheckAgentRequest, ExcludePath, ListAgentRequest, ProtectableAgentReq,
                                        ProtectableAgentStatusResource, RegisterAgentRequest, RemoveAgentPathRequest, ShowAgentRequest,
                                        UnregisterAgentRequest, UpdateAgentRequest)
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

endpoint, creds_path = sys.argv[1], sys.argv[2]
creds = json.load(open(creds_path))
pid = creds["project_id"]
wait_healthy(endpoint)
client = CbrClient.new_builder().with_credentials(BasicCredentials(creds["access_key"], creds["secret_key"], pid)).with_endpoints([endpoint]).build()

agent_id = "sdk-agent-0001"
registered = client.register_agent(RegisterAgentRequest(body=AgentRegisterReq(agent=AgentRegister(
    agent_id=agent_id, host_name="db-host", host_ip="192.0.2.44", host_os="Linux", host_nickname="db", agent_version="1.0", agent_type="coffer")))).agent
check(registered.agent_id == agent_id and registered.status == "online" and registered.host_ip == "192.0.2.44", "register_agent model: %s" % registered)
again = client.register_agent(RegisterAgentRequest(body=AgentRegisterReq(agent=AgentRegister(
    agent_id=agent_id, host_name="db-host", host_ip="192.0.2.45", host_os="Linux")))).agent
check(again.created_at == registered.created_at and again.host_ip == "192.0.2.45", "registering again is the heartbeat")

added = client.add_agent_path(AddAgentPathRequest(agent_id=agent_id, body=AgentAddPathReq(
    add_path=["/srv/data", "/var/lib/app"], exclude_path=[ExcludePath(path_name="/srv/data", exclude_path_name=["/srv/data/tmp"])])))
check(sorted(added.added) == ["/srv/data", "/var/lib/app"] and added.existed == [], "add_agent_path: %s" % added)
shown = client.show_agent(ShowAgentRequest(agent_id=agent_id)).agent
check(sorted(p.dir_path for p in shown.paths) == ["/srv/data", "/var/lib/app"], "show_agent paths: %s" % shown.paths)
check(any(p.exclude_paths == "/srv/data/tmp" for p in shown.paths), "exclude paths shown")
removed = client.remove_agent_path(RemoveAgentPathRequest(agent_id=agent_id, body=AgentRemovePathReq(remove_path=["/var/lib/app", "/nope"])))
check(removed.removed == ["/var/lib/app"] and removed.not_existed == ["/nope"], "remove_agent_path: %s" % removed)

listed = client.list_agent(ListAgentRequest(agent_id=[agent_id], status="online"))
check(listed.count == 1 and listed.agents[0].agent_id == agent_id, "list_agent by id and status")
check(client.list_agent(ListAgentRequest(status="offline")).count == 0, "list_agent offline")

status = client.check_agent(CheckAgentRequest(body=ProtectableAgentReq(agent_status=[
    ProtectableAgentStatusResource(resource_id=agent_id, resource_type="OS::Nova::Server", resource_name="db"),
    ProtectableAgentStatusResource(resource_id="no-such-host", resource_type="OS::Nova::Server", resource_name="x")]))).agent_status
check([s.installed for s in status] == [True, False], "check_agent: %s" % status)

updated = client.update_agent(UpdateAgentRequest(agent_id=agent_id, body=AgentUpdateReq(agent=AgentUpdate(status="uninstalled")))).agent
check(updated.status == "uninstalled", "update_agent uninstalled")
client.unregister_agent(UnregisterAgentRequest(agent_id=agent_id))
try:
    client.show_agent(ShowAgentRequest(agent_id=agent_id))
    check(False, "an unregistered agent must be gone")
except ClientRequestException as e:
    check(e.status_code == 404, "show_agent after unregister: %s" % e.status_code)
finish("agent interop ok")
