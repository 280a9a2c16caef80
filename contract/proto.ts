/** Names of the plugin↔agent contract (contract/cni-backend.proto) that need no generated code. */
export { SERVICE as CNI_BACKEND_SERVICE } from './generated/cni-backend.js';
export const DEFAULT_AGENT_SOCKET = '/var/run/vpp-cni/agent.sock';
