#pragma once
// The pgsql, mysql and redis connectors and their actions (EMQX's connectors.pgsql,
// connectors.mysql, connectors.redis and actions of those types), over the database
// clients that authentication uses (auth/db/db_client.hpp: libpq, MariaDB Connector/C,
// hiredis).
//
// The connector is a Pool of pool_size connections that its actions share; its health
// check runs EMQX's probe (a `SELECT 1`, a Redis PING) on one of them.
//
// An SQL action's `sql` is a template whose ${path} placeholders become the prepared
// statement's parameters ($1... for PostgreSQL, ? for MySQL): a value is never text in the
// SQL, so a payload cannot change the statement. A path the rule's output does not have
// (and a JSON null) is SQL NULL; other values are sent as text (numbers in decimal, maps and
// lists as JSON), which the server converts to the column's type. A batch (batch_size > 1)
// of `INSERT ... VALUES (...)` is one INSERT with a row per message, so that it is written
// whole or not at all; any other statement runs once per message.
//
// A redis action's `command_template` is a list: each element is one template rendered
// into one argument of the command (so a value with spaces stays one argument); a batch is
// sent command after command on one connection.
//
// Outcomes (connectors/resource.hpp): an error the server answered (a bad statement, a
// violated constraint, a value of the wrong type, a Redis error reply) fails the batch; no
// connection or no answer in time keeps it for another try.
#include <memory>

#include "config/config.hpp"
#include "connectors/resource.hpp"

namespace emqxd::connectors {

// c.type is "pgsql", "mysql" or "redis".
std::unique_ptr<Connector> make_db_connector(const config::ConnectorConfig& c);

// For batches: `sql` split around the row of an `INSERT ... VALUES (<row>) [<tail>]`, whose
// row holds every placeholder; nullopt for any other statement. Case-insensitive; quotes
// and nested parentheses in the row are skipped over.
struct InsertShape {
  std::string head;  // up to and including VALUES
  std::string row;   // "(...)"
  std::string tail;  // what follows the row (no placeholders)
};
std::optional<InsertShape> insert_shape(std::string_view sql);

}  // namespace emqxd::connectors
