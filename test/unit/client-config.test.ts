import { describe, expect, it } from 'vitest';
import { checkAddress, configPath, parseConfigFile, resolveConnection, type ResolveInput } from '../../client/sdk/config.js';

const config = parseConfigFile(
  JSON.stringify({ defaultProfile: 'lab', profiles: { lab: { coordinator: 'lab.example.org:7443', tlsDir: '~/tls-lab', name: 'alice', adminName: 'boss' }, other: { coordinator: 'other:1', insecure: true } } }),
  '/x/config.json',
);
const base = (over: Partial<ResolveInput> = {}): ResolveInput => ({ flags: {}, env: {}, config, configPath: '/x/config.json', home: '/home/r', role: 'researcher', ...over });

describe('connection settings: flag > env > profile > default (issue 14 #10)', () => {
  it('takes the default profile when nothing else is given, expanding ~', () => {
    const c = resolveConnection(base());
    expect(c).toMatchObject({ coordinator: 'lab.example.org:7443', tlsDir: '/home/r/tls-lab', name: 'alice', insecure: false });
    expect(c.sources.coordinator).toBe('profile lab');
  });
  it('env beats the profile, a flag beats env', () => {
    const env = { FEDMESH_COORDINATOR: 'env-host:9000', FEDMESH_TLS_DIR: '/etc/tls', FEDMESH_NAME: 'bob' };
    expect(resolveConnection(base({ env }))).toMatchObject({ coordinator: 'env-host:9000', tlsDir: '/etc/tls', name: 'bob', sources: { coordinator: 'env FEDMESH_COORDINATOR' } });
    expect(resolveConnection(base({ env, flags: { coordinator: 'flag-host:1', name: 'carol' } }))).toMatchObject({ coordinator: 'flag-host:1', tlsDir: '/etc/tls', name: 'carol' });
  });
  it('--profile and FEDMESH_PROFILE pick a section; the flag wins', () => {
    expect(resolveConnection(base({ env: { FEDMESH_PROFILE: 'other' } }))).toMatchObject({ coordinator: 'other:1', insecure: true, name: 'researcher' });
    expect(resolveConnection(base({ env: { FEDMESH_PROFILE: 'other' }, flags: { profile: 'lab' } })).coordinator).toBe('lab.example.org:7443');
  });
  it('administrators use adminName, else admin', () => {
    expect(resolveConnection(base({ role: 'admin' })).name).toBe('boss');
    expect(resolveConnection(base({ role: 'admin', config: undefined, flags: { coordinator: 'h:1' } })).name).toBe('admin');
  });
  it('defaults without any source: name researcher; no coordinator is an error naming the ways to give one', () => {
    expect(resolveConnection(base({ config: undefined, flags: { coordinator: 'h:1' } }))).toMatchObject({ name: 'researcher', insecure: false });
    expect(() => resolveConnection(base({ config: undefined }))).toThrow(/--coordinator HOST:PORT is required \(or set FEDMESH_COORDINATOR/);
  });
  it('an unknown profile is named with the known ones', () => {
    expect(() => resolveConnection(base({ flags: { profile: 'nope' } }))).toThrow(/--profile: no profile "nope" .*profiles: lab, other/);
    expect(() => resolveConnection(base({ config: undefined, flags: { profile: 'nope' } }))).toThrow(/no such file/);
  });
  it('a host without a port is an error, not port 443, naming where it came from', () => {
    expect(() => resolveConnection(base({ flags: { coordinator: 'mesh.example.org' } }))).toThrow('--coordinator: "mesh.example.org" has no port: write "mesh.example.org":PORT');
    expect(() => resolveConnection(base({ env: { FEDMESH_COORDINATOR: 'mesh' } }))).toThrow(/^env FEDMESH_COORDINATOR: "mesh" has no port/);
    for (const bad of ['h:0', 'h:65536', 'h:', ':80', 'a b:1', 'h:1:2']) expect(() => checkAddress(bad), bad).toThrow(/not HOST:PORT|no port/);
    for (const good of ['h:1', '127.0.0.1:7443', '[::1]:7443', 'mesh.example.org:65535']) expect(() => checkAddress(good)).not.toThrow();
  });
  it('the config file is validated with messages naming the bad key', () => {
    expect(() => parseConfigFile('{', '/c.json')).toThrow(/config "\/c.json": malformed JSON/);
    expect(() => parseConfigFile('{"profiles":{"lab":{"coordinater":"h:1"}}}', '/c.json')).toThrow(/profiles\.lab: unknown key\(s\) "coordinater" \(known: coordinator, tlsDir, name, adminName, insecure\)/);
    expect(() => parseConfigFile('{"profiles":{"lab":{"insecure":"yes"}}}', '/c.json')).toThrow(/profiles\.lab\.insecure: /);
    expect(() => parseConfigFile('{"profile":{}}', '/c.json')).toThrow(/\(top level\): unknown key\(s\) "profile" \(known: defaultProfile, profiles\)/);
    expect(() => parseConfigFile('{"defaultProfile":"x","profiles":{}}', '/c.json')).toThrow(/defaultProfile: no profile named "x"/);
  });
  it('finds the file through FEDMESH_CONFIG, else XDG_CONFIG_HOME, else ~/.config', () => {
    expect(configPath({ FEDMESH_CONFIG: '/a.json' }, '/h')).toBe('/a.json');
    expect(configPath({ XDG_CONFIG_HOME: '/xdg' }, '/h')).toBe('/xdg/fedmesh/config.json');
    expect(configPath({}, '/h')).toBe('/h/.config/fedmesh/config.json');
  });
});
