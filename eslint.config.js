import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'node_modules/**', 'deploy/cdk.out/**']
  }),
  // The dashboard's script runs in the browser, not in Node: these are the browser's names it uses.
  {
    files: ['routes/dashboard/*.js'],
    languageOptions: {
      globals: Object.fromEntries(['document', 'location', 'fetch', 'setTimeout', 'requestAnimationFrame', 'URLSearchParams', 'HTMLElement', 'HTMLTemplateElement']
        .map(name => [name, 'readonly']))
    }
  }
]
