/**
 * The gRPC contract shared by the CNI plugin and the agent, as text (so the single-binary plugin carries
 * it without reading files). contract/cni-backend.proto is the same text for people and tools; a test
 * keeps them equal.
 */
export const CNI_BACKEND_PROTO = `// The only contract between the CNI plugin (cni-plugin/) and the node agent (agent/).
// gRPC over a unix socket (default /var/run/vpp-cni/agent.sock, mode 0600 in a 0700 directory).
// Keep in sync with contract/proto.ts (a test compares them).
syntax = "proto3";
package vppcni.v1;

service CniBackend {
  rpc Add (AddRequest) returns (AddReply);
  rpc Del (DelRequest) returns (DelReply);
  rpc Check (CheckRequest) returns (CheckReply);
  rpc Gc (GcRequest) returns (GcReply);
  rpc Status (StatusRequest) returns (StatusReply);
}

message PodRef {
  string namespace = 1;
  string name = 2;
  string uid = 3;
}

// One (container, interface) the runtime asks about.
message Attachment {
  string container_id = 1;
  string if_name = 2;
  string netns = 3;
  PodRef pod = 4;
}

message IpConfig {
  string address = 1; // "10.1.0.5/24"
  string gateway = 2; // optional
}

message Route {
  string dst = 1;
  string gw = 2; // optional
}

message Interface {
  string name = 1;
  string mac = 2;
  uint32 mtu = 3;
  string sandbox = 4;
  string socket_path = 5; // memif: the abstract socket as the pod sees it, e.g. "@vpp/memif-eth0"
}

message ResultIp {
  string address = 1;
  string gateway = 2;
  int32 interface = 3;
}

message Result {
  repeated Interface interfaces = 1;
  repeated ResultIp ips = 2;
  repeated Route routes = 3;
}

// A CNI error as the plugin must print it: code from the CNI spec
// (3 unknown container, 4 bad environment, 7 invalid network config / annotations, 11 try again later,
// 50 / 51 from STATUS, 100+ vpp-cni specific, 999 a bug).
message CniError {
  uint32 code = 1;
  string msg = 2;
  string details = 3;
}

message AddRequest {
  Attachment attachment = 1;
  repeated IpConfig ips = 2;   // from the IPAM delegate
  repeated Route routes = 3;   // from the IPAM delegate
  string network_name = 4;
}
message AddReply {
  Result result = 1;
  CniError error = 2; // set on failure (result then empty)
}

message DelRequest {
  Attachment attachment = 1;
}
message DelReply {
  CniError error = 1;
}

message CheckRequest {
  Attachment attachment = 1;
  Result prev_result = 2;
}
message CheckReply {
  CniError error = 1;
}

message GcRequest {
  repeated Attachment valid = 1; // container_id + if_name of every attachment the runtime still has
  string network_name = 2;
}
message GcReply {
  CniError error = 1;
  uint32 removed = 2;
}

message StatusRequest {}
message StatusReply {
  CniError error = 1; // unset: ready
}
`;

export const CNI_BACKEND_SERVICE = 'vppcni.v1.CniBackend';
export const DEFAULT_AGENT_SOCKET = '/var/run/vpp-cni/agent.sock';
