/** Services → iptables: the pure nat rule renderer, backend detection and the applier. */
export {
  buildNatRuleSet, buildServiceRules, renderNatRules, renderNatRuleSet, renderServiceDelta, chainNames, chainHash,
  serviceChainName, endpointChainName, externalChainName, firewallChainName, renderProxyFirewall, backendsFor, probability, parseInstalledNat, renderRestartSync, serviceInstalled, HASH_TAG,
  BASE_CHAINS, CHAIN_PREFIX, CHAIN_PROXY_FIREWALL, CHAIN_SERVICES, CHAIN_NODEPORTS, CHAIN_POSTROUTING, CHAIN_MARK_MASQ, MASQ_MARK,
} from './rules.js';
export type { NatInput, NatRuleSet, ServiceRules, Chain, RenderOptions, InstalledNat } from './rules.js';
export { detectIptablesBackend, chooseBackend, summarizeSave, parseIptablesVersion, backendBinaries } from './backend.js';
export type { IptablesBackend, BackendBinaries, DetectOptions } from './backend.js';
export { IptablesApplier, IptablesError, JUMP_RULES } from './applier.js';
export type { IptablesApplierOptions, SyncResult } from './applier.js';
