/** Parsed settings (src/config/settings.ts): one variant per mode, carrying what that mode needs; modeFor. */
import { describe, expect, it } from 'vitest';
import { modeFor } from '../../src/channel/modes.ts';
import { parseSettings } from '../../src/config/settings.ts';
import { ErrorCode } from '../../src/errors.ts';

describe('parseSettings', () => {
  it('tunnel without SOCKS → port-forward with its target (a numeric-string port is accepted)', () => {
    expect(
      parseSettings({
        conversationType: 'tunnel',
        target_host: ' db.local ',
        target_port: '5432',
        local_listen_addr: ' 127.0.0.1:0 ',
      }),
    ).toEqual({
      conversationType: 'tunnel',
      mode: 'port-forward',
      localListenAddr: '127.0.0.1:0',
      target: { host: 'db.local', port: 5432 },
    });
  });

  it('tunnel with socks_mode or an allow-list → socks5 with credentials and the lists as given', () => {
    expect(
      parseSettings({
        conversationType: 'tunnel',
        socks_mode: true,
        socks_username: 'u',
        socks_password: 'p',
        allowed_ports: [80, '443'],
      }),
    ).toEqual({
      conversationType: 'tunnel',
      mode: 'socks5',
      localListenAddr: undefined,
      credentials: { username: 'u', password: 'p' },
      allowedHosts: undefined,
      allowedPorts: [80, '443'],
    });
    const s = parseSettings({
      conversationType: 'tunnel',
      allowed_hosts: '*.example.com',
      socks_username: '',
    });
    expect(s).toMatchObject({ mode: 'socks5', credentials: undefined, allowedHosts: '*.example.com' });
  });

  it('Guacamole types → guacd with its address and converted parameters', () => {
    const s = parseSettings({
      conversationType: 'postgres',
      guacd: { guacd_host: 'g', guacd_port: 4822 },
      guacd_params: { Host_Name: 'h' },
    });
    expect(s.mode).toBe('guacd');
    if (s.mode !== 'guacd') return;
    expect(s.conversationType).toBe('postgresql');
    expect(s.guacd).toEqual({ host: 'g', port: 4822 });
    expect(Object.fromEntries(s.guacdParams)).toEqual({ hostname: 'h', protocol: 'postgres' });
  });

  it('keeps the original error texts, in the original order', () => {
    const cases: [unknown, string][] = [
      [null, 'Settings parameter must be a dictionary.'],
      [[], 'Settings parameter must be a dictionary.'],
      [{}, 'No specific protocol defined (conversationType missing)'],
      [{ conversationType: 1 }, 'conversationType is not a string'],
      [{ conversationType: 'ftp' }, 'Invalid conversationType string: ftp'],
      [
        { conversationType: 'vnc', local_listen_addr: 1, guacd_params: 1 },
        'local_listen_addr must be a string',
      ],
      [{ conversationType: 'vnc', guacd_params: 1 }, 'guacd_params must be an object'],
    ];
    for (const [input, message] of cases) {
      expect(() => parseSettings(input), message).toThrow(
        expect.objectContaining({ code: ErrorCode.BAD_SETTINGS, message }),
      );
    }
  });
});

describe('modeFor', () => {
  it('refuses the modes this build does not serve, naming the mode', () => {
    for (const [settings, mode] of [
      [{ conversationType: 'python_handler' }, 'python-handler'],
      [{ conversationType: 'tunnel', tunnelType: 'database' }, 'database-proxy'],
    ] as const) {
      expect(() => modeFor(parseSettings(settings))).toThrow(
        expect.objectContaining({
          code: ErrorCode.BAD_SETTINGS,
          message: expect.stringContaining(`(${mode} mode)`),
        }),
      );
    }
  });

  it('an unreadable allow-list passes parsing and is refused when the SOCKS mode is built', () => {
    const s = parseSettings({ conversationType: 'tunnel', socks_mode: true, allowed_ports: { a: 1 } });
    expect(() => modeFor(s)).toThrow(
      expect.objectContaining({
        code: ErrorCode.BAD_SETTINGS,
        message: 'allowed_ports must be a comma-separated string',
      }),
    );
  });
});
