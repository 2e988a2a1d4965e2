/**
 * networking.k8s.io/v1 Ingress and IngressClass, with the names corral's built-in ingress proxy and
 * the DefaultIngressClass admission plugin share.
 */
import type { KubeObject } from './meta.js';

export type PathType = 'Exact' | 'Prefix' | 'ImplementationSpecific';

export interface ServiceBackendPort {
  name?: string;
  number?: number;
}

export interface IngressBackend {
  service?: { name: string; port?: ServiceBackendPort };
  resource?: { apiGroup?: string; kind: string; name: string };
}

export interface HTTPIngressPath {
  path?: string;
  pathType?: PathType;
  backend: IngressBackend;
}

export interface IngressRule {
  host?: string;
  http?: { paths: HTTPIngressPath[] };
}

export interface IngressTLS {
  hosts?: string[];
  secretName?: string;
}

export interface IngressLoadBalancerIngress {
  ip?: string;
  hostname?: string;
  ports?: { port: number; protocol: string; error?: string }[];
}

export interface Ingress extends KubeObject {
  spec?: {
    ingressClassName?: string;
    defaultBackend?: IngressBackend;
    tls?: IngressTLS[];
    rules?: IngressRule[];
  };
  status?: { loadBalancer?: { ingress?: IngressLoadBalancerIngress[] } };
}

export interface IngressClass extends KubeObject {
  spec?: {
    controller?: string;
    parameters?: { apiGroup?: string; kind: string; name: string; scope?: string; namespace?: string };
  };
}

/** The annotation that makes an IngressClass the default for Ingresses naming none (upstream's). */
export const DEFAULT_INGRESS_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
/** The deprecated class annotation older manifests still carry instead of spec.ingressClassName. */
export const LEGACY_INGRESS_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
/** spec.controller of the IngressClasses corral's built-in proxy serves. */
export const CORRAL_INGRESS_CONTROLLER = 'corral.dev/ingress-proxy';
/** The IngressClass every cluster starts with (the default). */
export const CORRAL_INGRESS_CLASS = 'corral';
/**
 * Set by an agent on its Node while its ingress proxy listens: `HTTP_PORT,HTTPS_PORT`. The server
 * fills Ingress status.loadBalancer with the InternalIPs of the Ready nodes that carry it.
 */
export const INGRESS_PROXY_NODE_ANNOTATION = 'ingress.corral.dev/proxy-ports';
