//! The `Examples:` that end each subcommand's `--help`: one or two command lines each, every
//! one checked against the real command tree by the tests (`tests/it/shells.rs`), so an
//! example cannot name a flag that does not exist.

pub(super) const CHECK: &str = "\
Examples:
  cfsecrets check
  cfsecrets check --decrypt -i ~/.config/cfsecrets/me.key --wrangler worker/";

pub(super) const PLAN: &str = "\
Examples:
  cfsecrets plan --format markdown --out plan.json --detailed-exitcode > plan.md
  cfsecrets plan --wrangler workers/api --wrangler workers/cron";

pub(super) const APPLY: &str = "\
Examples:
  cfsecrets apply plan.json --wait-active
  cfsecrets apply --auto-approve --wrangler workers/api --wait-active=60";

pub(super) const LOCAL: &str = "\
Examples:
  cfsecrets local --account dev --wrangler workers/api
  cfsecrets local --account dev --wrangler workers/api --env staging";

pub(super) const IMPORT: &str = "\
Examples:
  cfsecrets import --account 0123456789abcdef0123456789abcdef --label production --out imported.yaml";

pub(super) const INIT: &str = "\
Examples:
  cfsecrets init --generate-identity me.key --account-id 0123456789abcdef0123456789abcdef
  cfsecrets init --dir infra -r \"$(cat teammate.pub)\"";

pub(super) const SECRET: &str = "\
Examples:
  printf %s \"$STRIPE_KEY\" | cfsecrets secret set STRIPE_KEY --account production
  cfsecrets secret import-env .env --account production";

pub(super) const SECRET_SET: &str = "\
Examples:
  printf %s \"$STRIPE_KEY\" | cfsecrets secret set STRIPE_KEY --account production
  cfsecrets secret set DB_URL --account staging --store main --scopes workers,ai_gateway";

pub(super) const SECRET_IMPORT_ENV: &str = "\
Examples:
  cfsecrets secret import-env .env --account production --scopes workers
  cfsecrets secret import-env .env.staging --account staging --bundle values/staging.env.age";

pub(super) const SECRET_RM: &str = "\
Examples:
  cfsecrets secret rm OLD_TOKEN --account production
  cfsecrets secret rm OLD_TOKEN --account production --absent";

pub(super) const RESEAL: &str = "\
Examples:
  cfsecrets reseal -i ~/.config/cfsecrets/me.key
  cfsecrets reseal --force -i ~/.config/cfsecrets/me.key";

pub(super) const SCHEMA: &str = "\
Examples:
  cfsecrets schema manifest > schemas/manifest.schema.json
  cfsecrets schema plan";

pub(super) const EMULATOR: &str = "\
Examples:
  cfsecrets emulator --listen 127.0.0.1:8787 --state emulator.json
  cfsecrets emulator --listen 127.0.0.1:0 --error-rate 0.2 --seed 7";

pub(super) const BINDINGS: &str = "\
Examples:
  cfsecrets bindings --account production >> wrangler.toml
  cfsecrets bindings --account production --secret STRIPE_KEY --format ts --store-id ID";

pub(super) const COMPLETIONS: &str = "\
Examples:
  cfsecrets completions bash > ~/.local/share/bash-completion/completions/cfsecrets
  cfsecrets completions zsh > ~/.zfunc/_cfsecrets";

pub(super) const MAN: &str = "\
Examples:
  cfsecrets man > cfsecrets.1
  cfsecrets man --dir ~/.local/share/man/man1";
