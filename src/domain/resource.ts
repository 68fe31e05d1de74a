/** A resource inside an integration, as discovered by its connector and stored by Latch. */
export interface Resource {
  /** Connector-defined id, stable across discoveries, e.g. `db:app/schema:billing`. */
  id: string;
  integration: string;
  name: string;
  /** Connector-defined kind, e.g. `database`, `schema`. */
  kind: string;
  tags: Record<string, string>;
  /** Emails of the people who own it; approvers of type resource_owner resolve to them. */
  owners: string[];
  /** Permissions this resource supports. */
  permissions: string[];
}
