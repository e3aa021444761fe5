module typescript-sdk

go 1.24.0
