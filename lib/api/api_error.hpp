// Failures of an API call after its retries, with what an operator needs to look it up.
#pragma once

#include <stdexcept>
#include <string>

namespace dirsync::api {

// The API answered with a non-success status (after retries for the retryable ones).
class ApiError : public std::runtime_error {
public:
    ApiError(unsigned status, std::string code, std::string request_id, std::string message)
        : std::runtime_error(std::move(message))
        , status_(status)
        , code_(std::move(code))
        , request_id_(std::move(request_id))
    {
    }
    unsigned status() const { return status_; }
    std::string const& code() const { return code_; }
    std::string const& request_id() const { return request_id_; }
    bool is_auth_failure() const { return status_ == 401; }

private:
    unsigned status_;
    std::string code_;
    std::string request_id_;
};

// The API could not be reached or spoke nonsense: connection, TLS, timeout, or a response body
// that is not what the endpoint returns.
class TransportError : public std::runtime_error {
public:
    enum class Kind { network, tls, protocol };
    TransportError(Kind kind, std::string message)
        : std::runtime_error(std::move(message))
        , kind_(kind)
    {
    }
    Kind kind() const { return kind_; }

private:
    Kind kind_;
};

} // namespace dirsync::api
