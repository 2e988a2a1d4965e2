/** The advertised API address: explicit setting, node IP, a specific bind address, then the default route's interface. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { advertiseAddress, defaultRouteInterface } from '../../server/advertise-address.js';

test('the default route interface is read from /proc/net/route', () => {
  const table = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'cni0\t00002A0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
  ].join('\n');
  assert.is(defaultRouteInterface(table), 'eth0');
  assert.is(defaultRouteInterface(table.split('\n').slice(0, 2).join('\n')), undefined);
});

test('precedence: advertise address, node IP, a specific bind address', () => {
  assert.is(advertiseAddress({ advertiseAddress: '10.0.0.5', nodeIp: '10.0.0.6', bindAddress: '10.0.0.7' }), '10.0.0.5');
  assert.is(advertiseAddress({ nodeIp: '10.0.0.6', bindAddress: '10.0.0.7' }), '10.0.0.6');
  assert.is(advertiseAddress({ bindAddress: '127.0.0.1' }), '127.0.0.1');
  assert.match(advertiseAddress({ bindAddress: '0.0.0.0' }), /^\d+\.\d+\.\d+\.\d+$/);
});

test.run();
