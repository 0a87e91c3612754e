-- wrk script: POST a realistic lead with a new phone number and e-mail every request.
-- `wrk ... -s lead.lua URL -- BASE` starts the numbers at BASE, so that several runs
-- against one database send new leads, not repeats of the last run's (a repeat is cheaper).
counter = 0

init = function(args)
  counter = tonumber(args[1] or "0") or 0
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  counter = counter + 1
  local body = string.format(
    '{"name":"Иван Петров","phone":"+7 916 %03d-%02d-%02d","email":"ivan%d@example.ru",' ..
    '"comment":"Перезвоните после обеда","campaign_id":"spring-sale","utm_source":"yandex",' ..
    '"utm_medium":"cpc","utm_campaign":"spring","yclid":"47812345%d",' ..
    '"page_url":"https://landing.example.ru/?utm_source=yandex"}',
    math.floor(counter / 10000) % 1000, math.floor(counter / 100) % 100, counter % 100,
    counter, counter)
  return wrk.format(nil, nil, nil, body)
end
