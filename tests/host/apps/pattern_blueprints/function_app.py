"""An app split into blueprints (samples-v2/blueprint): the composition root only registers them."""

import azure.durable_functions as df
import azure.functions as func
from features import greetings, starters

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(starters.bp)
app.register_functions(greetings.bp)
