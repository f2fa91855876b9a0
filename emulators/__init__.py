"""Local stand-ins for the services soraflow talks to: the Sora APIs and the Functions host."""
