import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { parseTemplate, renderTemplate } from './template.js';

describe('templates', () => {
  it('front matter declares services and mode; the body renders with `it`', () => {
    const t = parseTemplate('/t/x.yml.eta', 'etc/x.yml', '---\nservices: { lb: restart, proxy: reload }\nmode: "0600"\n---\nport: <%= it.port %>\n');
    expect(t).toMatchObject({ target: 'etc/x.yml', services: { lb: 'restart', proxy: 'reload' }, mode: 0o600 });
    expect(renderTemplate(t, { port: 5060 })).toBe('port: 5060\n');
    expect(renderTemplate(t, { port: '<a&b>' })).toBe('port: <a&b>\n'); // no HTML escaping
  });

  it.each([
    ['no front matter', 'port: 1\n', /missing front matter/],
    ['unknown action', '---\nservices: { lb: bounce }\n---\n', /restart or reload/],
    ['unknown key', '---\nservice: { lb: restart }\n---\n', /unknown key service/],
    ['bad mode', '---\nmode: "99"\n---\n', /octal/],
  ])('refuses a template with %s', (_n, text, re) => {
    expect(() => parseTemplate('/t/x.eta', 'x', text)).toThrow(re);
  });

  it('a template that throws names the template', () => {
    const t = parseTemplate('/t/bad.eta', 'bad', '---\nservices: {}\n---\n<%= it.nope.deeper %>\n');
    expect(() => renderTemplate(t, {})).toThrow(ConfigError);
    expect(() => renderTemplate(t, {})).toThrow(/\/t\/bad\.eta/);
  });
});
