/** The disruption controller's pure arithmetic: scaled values, desired/expected counts, selector rules. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { PodDisruptionBudget } from '../../api/types.js';
import { budgetSelector, desiredAndExpected, scaledValue } from '../../server/controllers/disruption.js';

function pdb(spec: PodDisruptionBudget['spec']): PodDisruptionBudget {
  return { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'p', namespace: 'default' }, spec };
}

test('percentages round up against the total; integers pass through; junk throws', () => {
  assert.is(scaledValue('50%', 3), 2);
  assert.is(scaledValue('34%', 3), 2);
  assert.is(scaledValue('0%', 7), 0);
  assert.is(scaledValue(4, 10), 4);
  assert.throws(() => scaledValue('half', 3), /invalid value/);
});

test('minAvailable int counts the selected pods; percentages and maxUnavailable use the owners scale', () => {
  const scale = (): number => 5;
  assert.equal(desiredAndExpected(pdb({ minAvailable: 2 }), 3, scale), { expectedPods: 3, desiredHealthy: 2 });
  assert.equal(desiredAndExpected(pdb({ minAvailable: '50%' }), 3, scale), { expectedPods: 5, desiredHealthy: 3 });
  assert.equal(desiredAndExpected(pdb({ maxUnavailable: 1 }), 3, scale), { expectedPods: 5, desiredHealthy: 4 });
  assert.equal(desiredAndExpected(pdb({ maxUnavailable: '30%' }), 3, scale), { expectedPods: 5, desiredHealthy: 3 });
  assert.equal(desiredAndExpected(pdb({ maxUnavailable: 9 }), 3, scale), { expectedPods: 5, desiredHealthy: 0 });
});

test('an empty selector selects every pod, a missing one none', () => {
  assert.equal(budgetSelector(pdb({ selector: {} })), []);
  assert.is(budgetSelector(pdb({})), undefined);
  assert.is(budgetSelector(pdb({ selector: { matchLabels: { app: 'web' } } }))?.length, 1);
});

test.run();
