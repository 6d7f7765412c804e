"""Cloudflare's official Python SDK against a running `cfsecrets emulator`.

Usage: python_sdk.py BASE_URL TOKEN
  BASE_URL  e.g. http://127.0.0.1:PORT/client/v4
  TOKEN     the emulator's --token

Creates a store, then creates, lists, edits, duplicates and deletes secrets with
`cloudflare.Cloudflare(base_url=..., max_retries=0)`, asserting what comes back. Exits
non-zero on the first mismatch. Prints only names, ids and counts, never a value or token.
"""

import sys

import cloudflare
from cloudflare import Cloudflare

ACCOUNT = "0123456789abcdef0123456789abcdef"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def names(cf, store_id, **query):
    return sorted(s.name for s in cf.secrets_store.stores.secrets.list(
        store_id, account_id=ACCOUNT, **query))


def main():
    base_url, token = sys.argv[1], sys.argv[2]
    cf = Cloudflare(api_token=token, base_url=base_url, max_retries=0)

    quota = cf.secrets_store.quota.get(account_id=ACCOUNT)
    check(quota.secrets.quota == 100 and quota.secrets.usage == 0, f"quota {quota}")

    store = cf.secrets_store.stores.create(account_id=ACCOUNT, name="sdk_store")
    check(len(store.id) == 32 and store.name == "sdk_store", f"store {store.id}")
    stores = list(cf.secrets_store.stores.list(account_id=ACCOUNT))
    check([s.id for s in stores] == [store.id], "store list")
    check(cf.secrets_store.stores.get(store.id, account_id=ACCOUNT).id == store.id, "store get")

    # Create: an array body, even for several secrets; an array back.
    created = list(cf.secrets_store.stores.secrets.create(
        store.id,
        account_id=ACCOUNT,
        body=[
            {"name": "API_KEY", "value": "sdk-value-1", "scopes": ["workers", "ai_gateway"],
             "comment": "from the python sdk"},
            {"name": "DB_URL", "value": "sdk-value-2", "scopes": ["workers"]},
        ],
    ))
    check([s.name for s in created] == ["API_KEY", "DB_URL"], "create result")
    api_key = created[0]
    check(api_key.status == "pending", f"new secret status {api_key.status}")
    check(list(api_key.scopes) == ["ai_gateway", "workers"], f"scopes {api_key.scopes}")
    check(api_key.comment == "from the python sdk", "comment")

    # List (the SDK pages until an empty page), with search.
    check(names(cf, store.id) == ["API_KEY", "DB_URL"], "list")
    check(names(cf, store.id, search="python") == ["API_KEY"], "search")
    check(names(cf, store.id, per_page=1) == ["API_KEY", "DB_URL"], "list, one per page")

    got = cf.secrets_store.stores.secrets.get(api_key.id, account_id=ACCOUNT, store_id=store.id)
    check(got.id == api_key.id and got.name == "API_KEY", "get")

    # Edit (PATCH): value, comment, scopes.
    edited = cf.secrets_store.stores.secrets.edit(
        api_key.id, account_id=ACCOUNT, store_id=store.id,
        value="sdk-value-rotated", comment="rotated", scopes=["dex", "workers"])
    check(edited.id == api_key.id and edited.comment == "rotated", "edit")
    check(list(edited.scopes) == ["dex", "workers"], f"edited scopes {edited.scopes}")

    # Duplicate: a new id, the source untouched.
    dup = cf.secrets_store.stores.secrets.duplicate(
        api_key.id, account_id=ACCOUNT, store_id=store.id,
        name="API_KEY_COPY", scopes=["workers"], comment="copy")
    check(dup.id != api_key.id and dup.name == "API_KEY_COPY", "duplicate")
    check(names(cf, store.id) == ["API_KEY", "API_KEY_COPY", "DB_URL"], "after duplicate")

    # Errors surface as the SDK's typed exceptions.
    try:
        cf.secrets_store.stores.secrets.create(
            store.id, account_id=ACCOUNT,
            body=[{"name": "API_KEY", "value": "x", "scopes": ["workers"]}])
        check(False, "a taken name was accepted")
    except cloudflare.APIStatusError as e:
        check(e.status_code == 409 and "secret_name_already_exists" in str(e), "name taken")
    try:
        cf.secrets_store.stores.delete(store.id, account_id=ACCOUNT)
        check(False, "a non-empty store was deleted")
    except cloudflare.ConflictError as e:
        check("store_not_empty" in str(e), "store_not_empty")
    try:
        Cloudflare(api_token="wrong", base_url=base_url, max_retries=0) \
            .secrets_store.quota.get(account_id=ACCOUNT)
        check(False, "a wrong token was accepted")
    except cloudflare.PermissionDeniedError:
        pass

    # The SDK's bulk delete sends no body; the emulator refuses it rather than delete all.
    try:
        cf.secrets_store.stores.secrets.bulk_delete(store.id, account_id=ACCOUNT)
        check(False, "a body-less bulk delete was accepted")
    except cloudflare.BadRequestError as e:
        check("invalid_json_body" in str(e), "bulk delete without ids")
    check(len(names(cf, store.id)) == 3, "nothing bulk-deleted")

    # Delete one, then the store with force.
    cf.secrets_store.stores.secrets.delete(dup.id, account_id=ACCOUNT, store_id=store.id)
    check(names(cf, store.id) == ["API_KEY", "DB_URL"], "after delete")
    cf.secrets_store.stores.delete(store.id, account_id=ACCOUNT, force=True)
    check(list(cf.secrets_store.stores.list(account_id=ACCOUNT)) == [], "store gone")
    check(cf.secrets_store.quota.get(account_id=ACCOUNT).secrets.usage == 0, "usage 0")

    print(f"python sdk {cloudflare.__version__}: create, list, get, edit, duplicate, delete ok")


if __name__ == "__main__":
    main()
