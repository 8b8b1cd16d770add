#include "sync/failure.hpp"

#include "api/api_error.hpp"
#include "pg/connection.hpp"
#include "store/database.hpp"
#include "sync/sync_error.hpp"

#include <SQLiteCpp/Exception.h>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

namespace dirsync::sync {

Failure classify_failure(std::exception_ptr error)
{
    using api::TransportError;
    try {
        std::rethrow_exception(error);
    } catch (api::ApiError const& e) {
        return {e.is_auth_failure() ? FailureKind::auth : FailureKind::api, e.what()};
    } catch (TransportError const& e) {
        auto const kind = e.kind() == TransportError::Kind::tls       ? FailureKind::tls
                          : e.kind() == TransportError::Kind::network ? FailureKind::network
                                                                      : FailureKind::protocol;
        return {kind, e.what()};
    } catch (HeldSync const& e) {
        return {FailureKind::held, e.what()};
    } catch (SyncError const& e) {
        return {FailureKind::sync, e.what()};
    } catch (store::StoreError const& e) {
        return {FailureKind::store, e.what()};
    } catch (SQLite::Exception const& e) {
        return {FailureKind::database, "database: " + store::describe_database_error(e)};
    } catch (pg::Error const& e) { // libpq's text names the server, never the password
        return {FailureKind::database, "database: " + std::string(e.what())};
    } catch (boost::system::system_error const& e) {
        if (e.code() == boost::asio::error::operation_aborted)
            return {FailureKind::cancelled, "interrupted"};
        return {FailureKind::other, e.what()};
    } catch (std::exception const& e) {
        return {FailureKind::other, e.what()};
    } catch (...) {
        return {FailureKind::other, "unknown error"};
    }
}

} // namespace dirsync::sync
