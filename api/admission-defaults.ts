/** Defaults of admissionregistration.k8s.io/v1 webhook configurations (SetDefaults_*Webhook). */
import { isObj, objects, setDefault, setDefaultString, type Obj } from './default-util.js';

/** SetDefaults for admission webhooks: Fail, Equivalent, match-all selectors, 10 s, port 443, scope *. */
export function defaultWebhooks(obj: Obj, mutating: boolean): void {
  for (const hook of objects(obj['webhooks'])) {
    setDefaultString(hook, 'failurePolicy', 'Fail');
    setDefaultString(hook, 'matchPolicy', 'Equivalent');
    setDefault(hook, 'namespaceSelector', {});
    setDefault(hook, 'objectSelector', {});
    setDefault(hook, 'timeoutSeconds', 10);
    if (mutating) setDefaultString(hook, 'reinvocationPolicy', 'Never');
    const cc = hook['clientConfig'];
    if (isObj(cc) && isObj(cc['service'])) setDefault(cc['service'], 'port', 443);
    for (const rule of objects(hook['rules'])) setDefaultString(rule, 'scope', '*');
  }
}
